/**
 * The terminal `pproxy top` draws on: the process' stdout and stdin. On a TTY it draws in the
 * alternate screen (the shell's screen comes back on exit) and reads keys in raw mode, so q and
 * Ctrl-C arrive as bytes rather than a line or a signal.
 */

export interface TopTerminal {
  /** stdout is a terminal: refresh in place; otherwise print one snapshot. */
  readonly interactive: boolean;
  size(): { columns: number; rows: number };
  write(text: string): void;
  /** Takes the screen and the keyboard until the returned function gives them back. */
  open(onQuit: () => void, onResize: () => void): () => void;
}

const ALTERNATE_SCREEN = '\x1b[?1049h';
const MAIN_SCREEN = '\x1b[?1049l';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';
const CTRL_C = 0x03;

/** Cursor home, each line cleared to its end, the rest of the screen cleared: no flicker, no scroll. */
export function redrawSequence(lines: readonly string[]): string {
  return `\x1b[H${lines.map((line) => `${line}\x1b[K`).join('\n')}\x1b[J`;
}

export function processTerminal(): TopTerminal {
  const { stdin, stdout } = process;
  return {
    interactive: stdout.isTTY === true,
    size: () => ({ columns: stdout.columns || 80, rows: stdout.rows || 24 }),
    write: (text) => void stdout.write(text),
    open(onQuit, onResize) {
      const onKey = (data: Buffer) => {
        if (data.includes(CTRL_C) || data.includes('q') || data.includes('Q')) onQuit();
      };
      stdout.write(ALTERNATE_SCREEN + HIDE_CURSOR);
      stdout.on('resize', onResize);
      process.on('SIGINT', onQuit);
      process.on('SIGTERM', onQuit);
      if (stdin.isTTY) stdin.setRawMode(true);
      stdin.on('data', onKey);
      stdin.resume();
      return () => {
        stdin.off('data', onKey);
        if (stdin.isTTY) stdin.setRawMode(false);
        stdin.pause();
        process.off('SIGINT', onQuit);
        process.off('SIGTERM', onQuit);
        stdout.off('resize', onResize);
        stdout.write(SHOW_CURSOR + MAIN_SCREEN);
      };
    },
  };
}
