/**
 * The proxy's phase and readiness, as /ready, the log and the metrics show them: starting (the
 * configuration is being applied, the clusters warmed up), serving, and on a stop draining (still
 * accepting, /ready already 503, so that load balancers move away first) then stopping (no longer
 * accepting, answering what was received). A stop is final: nothing leads back to serving.
 */
import type { Logger } from '../log';
import { LIFECYCLE_PHASES, type LifecycleMetrics, type LifecyclePhase } from '../metrics/lifecycle-metrics';
import type { Readiness } from './admin-server';

export class Lifecycle {
  private current: LifecyclePhase = 'starting';
  private waitingFor: string | undefined;

  constructor(
    private readonly metrics: LifecycleMetrics,
    private readonly logger: Logger,
    /** The clusters still warming up, which readiness names. */
    private readonly warming: () => ReadonlySet<string> = () => new Set(),
  ) {
    this.refresh();
  }

  get phase(): LifecyclePhase {
    return this.current;
  }

  /** Moves forward to `phase` (logged with `fields`); a phase already passed is ignored. */
  enter(phase: LifecyclePhase, fields: Record<string, unknown> = {}): void {
    if (LIFECYCLE_PHASES.indexOf(phase) <= LIFECYCLE_PHASES.indexOf(this.current)) return;
    this.metrics.phase[this.current].set(0);
    this.current = phase;
    this.metrics.phase[phase].set(1);
    this.refresh();
    this.logger.info({ ...fields, phase, ready: this.readiness().ready }, `lifecycle: ${phase}`);
  }

  /** ZooKeeper mode: the node this proxy waits for while unbound, or undefined once bound. */
  setWaitingFor(node: string | undefined): void {
    this.waitingFor = node;
    this.refresh();
  }

  readiness(): Readiness {
    switch (this.current) {
      case 'starting':
        return { ready: false, reason: 'starting: applying the configuration and warming up its clusters', ...this.stillWarming() };
      case 'draining':
      case 'stopping':
        return { ready: false, reason: `stopping (${this.current})` };
      default:
        if (this.waitingFor !== undefined) return { ready: false, reason: `not bound: waiting for ZooKeeper node ${this.waitingFor}` };
        return { ready: true, ...this.stillWarming() };
    }
  }

  private stillWarming(): Pick<Readiness, 'warming'> {
    const warming = this.warming();
    return warming.size > 0 ? { warming: [...warming] } : {};
  }

  private refresh(): void {
    this.metrics.ready.set(this.readiness().ready ? 1 : 0);
  }
}
