/**
 * Java's string rules as the JVM applies them, to test pproxy's against, and the characters where
 * Java and JavaScript part ways.
 */

/** U+0000..U+0021, then characters JavaScript's trim() removes and Java's does not, or that look blank. */
export const EDGE_CHARACTERS = [
  ...Array.from({ length: 0x22 }, (_, c) => c),
  0x7f, 0x85, 0xa0, 0x1680, 0x2000, 0x2028, 0x2029, 0x3000, 0xfeff,
];

/** Java's String.trim() removes exactly the characters <= U+0020. */
export const javaTrimRemoves = (c: number): boolean => c <= 0x20;

export const hex = (c: number): string => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
