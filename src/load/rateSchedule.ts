// The send schedule of the load generator: a fixed rate over a fixed time.
// Pure: the caller supplies the elapsed time.

/**
 * How many sends are due by a moment of a run at `perSecond` for `durationMs`.
 * The count is derived from the elapsed time, never accumulated tick by tick,
 * so timers that fire late or ticks that take long do not make the rate
 * drift: a late tick finds more sends due and catches up.
 */
export class RateSchedule {
  /** Sends of the whole run. */
  readonly total: number;

  constructor(readonly perSecond: number, readonly durationMs: number) {
    // The epsilon keeps 0.1 × 30000 / 1000 from flooring to 2 by rounding error.
    this.total = Math.floor((perSecond * durationMs) / 1000 + 1e-9);
  }

  /**
   * Sends due by `elapsedMs` after the start: the first at 0, then one every
   * 1000 / perSecond ms, so they spread over [0, durationMs); all of them
   * from the end on.
   */
  dueBy(elapsedMs: number): number {
    if (elapsedMs < 0) return 0;
    if (elapsedMs >= this.durationMs) return this.total;
    return Math.min(this.total, Math.floor((elapsedMs * this.perSecond) / 1000 + 1e-9) + 1);
  }
}

