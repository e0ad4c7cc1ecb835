/** Runs a command without blocking the event loop; shared with the benchmark's broker launchers. */
export { run, type RunResult } from '../../bench/peers/run-command';
