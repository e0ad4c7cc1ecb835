/**
 * V8 settings for the proxy process, applied when main.ts loads, before any request code runs.
 *
 * Allocation-site pretenuring is off. V8 moves an allocation site to old-space allocation when most
 * of its objects outlive two minor GCs, a decision it keeps. During a proxy's first second
 * (connections opening, code not yet optimized) requests wait long enough for that to happen to the
 * sites that build per-request objects; from then on every request's objects land in the old
 * generation and keep its buffers alive, minor GCs copy more and full GCs run every second or two.
 * Measured at a steady 47k sendSync/s to the Kafka mock: p99 23-25 ms in runs where V8 had tenured
 * 11-22 sites, 5.3-5.7 ms with pretenuring off (no site tenured, 2 full GCs instead of 7 in 12 s).
 * Whether a run tenures depends on its warm-up, so the flag also removes run-to-run variance.
 */
import v8 from 'node:v8';

v8.setFlagsFromString('--no-allocation-site-pretenuring');
