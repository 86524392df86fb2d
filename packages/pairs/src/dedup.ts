/** Removes duplicate pairs (same problem, prefix, chosen and rejected text) and applies a per-problem cap. */
import type { PreferencePair } from '@stepwise/core';

export function pairKey(p: PreferencePair): string {
  return p.schema === 'stepwise.step-pair@1'
    ? JSON.stringify([p.problemId, p.prefixSteps, p.chosen, p.rejected])
    : JSON.stringify([p.problemId, p.chosenSteps, p.rejectedSteps]);
}

/** Keeps the first occurrence of each pair, then at most `maxPerProblem` per problem (in input order). */
export function dedupPairs<P extends PreferencePair>(pairs: readonly P[], maxPerProblem = Infinity): P[] {
  const seen = new Set<string>();
  const perProblem = new Map<string, number>();
  const out: P[] = [];
  for (const p of pairs) {
    const key = pairKey(p);
    if (seen.has(key)) continue;
    // A pair whose two sides are the same text teaches nothing and would give a zero DPO gradient.
    if (p.schema === 'stepwise.step-pair@1' ? p.chosen === p.rejected : JSON.stringify(p.chosenSteps) === JSON.stringify(p.rejectedSteps)) continue;
    const n = perProblem.get(p.problemId) ?? 0;
    if (n >= maxPerProblem) continue;
    seen.add(key);
    perProblem.set(p.problemId, n + 1);
    out.push(p);
  }
  return out;
}
