/**
 * Answer aggregation over N solutions (methods.md §8): MAJ@N, ORM_VOTE@N, ORM_MAX@N and the PRM variants
 * (solution score = the min or the last of its step values; then vote or max). "Same answer" is
 * decided by the grader (Judge.same), never by raw string equality. Ties go to the earliest cluster.
 */
import type { Judge } from './policy.js';

export interface Candidate {
  answer: string | null;
  /** Outcome reward (ORM) of the whole solution, when available. */
  orm?: number;
  /** Per-step values (PRM), when available. */
  stepValues?: number[];
}

export type Aggregation = 'maj' | 'orm-vote' | 'orm-max' | 'prm-min-vote' | 'prm-min-max' | 'prm-last-vote' | 'prm-last-max';

interface Cluster {
  answer: string;
  members: number[];
}

function clusters(cands: readonly Candidate[], same: Judge['same']): Cluster[] {
  const out: Cluster[] = [];
  cands.forEach((c, i) => {
    if (c.answer === null) return;
    const hit = out.find((k) => same(k.answer, c.answer!));
    if (hit) hit.members.push(i);
    else out.push({ answer: c.answer, members: [i] });
  });
  return out;
}

function score(c: Candidate, how: Aggregation): number {
  if (how === 'maj') return 1;
  if (how === 'orm-vote' || how === 'orm-max') {
    if (c.orm === undefined || !Number.isFinite(c.orm)) throw new RangeError(`aggregate ${how}: every candidate needs a finite orm score`);
    return c.orm;
  }
  const v = c.stepValues;
  if (!v || v.length === 0) throw new RangeError(`aggregate ${how}: every candidate needs stepValues`);
  return how.startsWith('prm-min') ? Math.min(...v) : v[v.length - 1];
}

/** The aggregated answer, or null when no candidate has an answer. */
export function aggregate(cands: readonly Candidate[], how: Aggregation, same: Judge['same']): string | null {
  const ks = clusters(cands, same);
  if (ks.length === 0) return null;
  const isMax = how.endsWith('-max');
  let best: Cluster | null = null;
  let bestScore = -Infinity;
  for (const k of ks) {
    const s = isMax
      ? Math.max(...k.members.map((i) => score(cands[i], how)))
      : k.members.reduce((acc, i) => acc + score(cands[i], how), 0);
    if (s > bestScore) {
      best = k;
      bestScore = s;
    }
  }
  return best!.answer;
}
