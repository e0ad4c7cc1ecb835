/** A loopback port free at the time of the call; shared with the benchmark's broker launchers. */
export { freePort } from '../../bench/peers/ports';
