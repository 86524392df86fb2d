/** Step-level ranking quality: ROC AUC by the Mann–Whitney statistic, and a bootstrap CI over problems. */
import { Rng } from '@stepwise/core';

import { PrmArgumentError } from './errors.js';

/**
 * P(score of a random positive > score of a random negative), ties counting 1/2. Sort once, give tied scores
 * their average rank, AUC = (sum of positive ranks - nPos(nPos+1)/2) / (nPos nNeg). NaN with one class only.
 */
export function auc(scores: readonly number[], labels: readonly number[]): number {
  if (scores.length !== labels.length) throw new PrmArgumentError('labels', `length ${scores.length} (one per score)`, labels.length);
  const n = scores.length;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i])) throw new PrmArgumentError(`scores[${i}]`, 'a finite number', scores[i]);
    if (labels[i] !== 0 && labels[i] !== 1) throw new PrmArgumentError(`labels[${i}]`, '0 or 1', labels[i]);
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!] === scores[order[i]!]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let t = i; t <= j; t++) if (labels[order[t]!] === 1) {
      nPos++;
      rankSum += avgRank;
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface GroupedScores {
  /** One entry per step of one problem's solution. */
  scores: readonly number[];
  labels: readonly number[];
}

export interface AucInterval {
  auc: number;
  lo: number;
  hi: number;
  level: number;
  resamples: number;
  /** Resamples dropped because they held one class only. */
  degenerate: number;
}

/**
 * Percentile bootstrap over groups (problems): steps of one solution are correlated, so resampling steps would
 * understate the spread. Seeded, so the interval is reproducible.
 */
export function bootstrapAuc(groups: readonly GroupedScores[], opts: { resamples?: number; seed?: number | string; level?: number } = {}): AucInterval {
  const B = opts.resamples ?? 1000;
  const level = opts.level ?? 0.95;
  if (!Number.isInteger(B) || B < 1) throw new PrmArgumentError('resamples', 'an integer >= 1', B);
  if (!(level > 0 && level < 1)) throw new PrmArgumentError('level', 'a number in (0, 1)', level);
  if (groups.length === 0) throw new PrmArgumentError('groups', 'at least one group');
  const flat = (gs: readonly GroupedScores[]) => auc(gs.flatMap((g) => [...g.scores]), gs.flatMap((g) => [...g.labels]));
  const point = flat(groups);
  const rng = new Rng(`prm-bootstrap|${opts.seed ?? 0}`);
  const stats: number[] = [];
  let degenerate = 0;
  for (let b = 0; b < B; b++) {
    const pick = Array.from({ length: groups.length }, () => groups[rng.int(groups.length)]!);
    const a = flat(pick);
    if (Number.isNaN(a)) degenerate++;
    else stats.push(a);
  }
  stats.sort((x, y) => x - y);
  const q = (p: number) => (stats.length ? stats[Math.min(stats.length - 1, Math.max(0, Math.floor(p * stats.length)))]! : NaN);
  return { auc: point, lo: q((1 - level) / 2), hi: q(1 - (1 - level) / 2), level, resamples: B, degenerate };
}
