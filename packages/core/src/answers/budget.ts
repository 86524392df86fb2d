/**
 * Work limits for one comparison. Grading runs over every sampled completion, so a single adversarial answer
 * (a 50 kB expression, `2^{2^{2^{99}}}`) must not stall a labelling job: every parser and evaluator loop ticks a
 * shared budget and gives up with BudgetExceeded, which the comparison turns into "not equal".
 */
export class BudgetExceeded extends Error {
  constructor(what: string) {
    super(`answer comparison budget exceeded: ${what}`);
    this.name = 'BudgetExceeded';
  }
}

/**
 * Milliseconds of CPU time used by this process. CPU time rather than wall time: on a loaded machine (a CI
 * runner, two training jobs) wall-clock pauses would otherwise turn a normal comparison into "budget exceeded"
 * and make grading nondeterministic. Falls back to wall time where process.cpuUsage is missing.
 */
export function cpuMillis(): number {
  if (typeof process !== 'undefined' && typeof process.cpuUsage === 'function') {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  return performance.now();
}

export class Budget {
  private steps = 0;
  private lastClock = 0;
  private readonly deadline: number;
  constructor(
    readonly maxSteps: number,
    maxMillis: number,
  ) {
    this.deadline = cpuMillis() + maxMillis;
  }
  /** Counts `n` units of work; checks the clock every 256 units because reading it is not free. */
  tick(n = 1): void {
    this.steps += n;
    if (this.steps > this.maxSteps) throw new BudgetExceeded(`more than ${this.maxSteps} steps`);
    if (this.steps - this.lastClock >= 256) {
      this.lastClock = this.steps;
      if (cpuMillis() > this.deadline) throw new BudgetExceeded('time limit');
    }
  }
  checkClock(): void {
    if (cpuMillis() > this.deadline) throw new BudgetExceeded('time limit');
  }
}
