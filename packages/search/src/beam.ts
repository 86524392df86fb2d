/**
 * Step-level beam search (SVPO / AlphaMath SBS, methods.md §5.5). B1 = beam width, B2 = samples per kept
 * node; the first depth samples B1·B2 steps from the root. Candidates are ranked by the scorer's value of
 * the new state and the top `width` kept; a kept terminal candidate with an answer moves to the answer list
 * and the width shrinks by one; a terminal one without an answer, or one past the depth limit, is dropped
 * and also shrinks the width. Greedy decoding is SBS(1, 1) at temperature 0 without a value function.
 */
import { Rng, type Problem } from '@stepwise/core';

import { type Judge, type Policy, type SampleOptions, type StepScorer, requireInt } from './policy.js';

export interface BeamOptions {
  /** B1. Default 3. */
  beamWidth?: number;
  /** B2. Default 5. */
  samplesPerNode?: number;
  /** Depth limit. Default 10 (SBS). */
  maxDepth?: number;
  sampling?: SampleOptions;
  seed?: number | string;
}

export interface BeamSolution {
  steps: string[];
  value: number;
  answer: string | null;
  correct: boolean;
}

export async function stepBeamSearch(
  problem: Problem,
  policy: Policy,
  scorer: StepScorer,
  judge: Judge,
  opts: BeamOptions = {},
): Promise<BeamSolution[]> {
  let width = opts.beamWidth ?? 3;
  const per = opts.samplesPerNode ?? 5;
  const maxDepth = opts.maxDepth ?? 10;
  requireInt('beamWidth', width, 1);
  requireInt('samplesPerNode', per, 1);
  requireInt('maxDepth', maxDepth, 1);
  const rng = new Rng(opts.seed ?? 0).split(`beam/${problem.id}`);
  const sampling: SampleOptions = { temperature: 1, ...opts.sampling };
  let beam: { steps: string[]; handle?: unknown }[] = [{ steps: [] }];
  const answers: BeamSolution[] = [];
  for (let depth = 0; depth < maxDepth && width > 0 && beam.length > 0; depth++) {
    const n = depth === 0 ? width * per : per;
    const expanded = await policy.expand(
      beam.map((b) => ({ problem, steps: b.steps, handle: b.handle })),
      n,
      { ...sampling, seed: rng.nextUint32() },
    );
    const cands: { steps: string[]; handle?: unknown; terminal: boolean; value: number }[] = [];
    for (let i = 0; i < beam.length; i++) {
      for (const c of expanded[i]) {
        const steps = [...beam[i].steps, c.text];
        const vs = await scorer.score(problem, steps);
        cands.push({ steps, handle: c.handle, terminal: c.terminal, value: vs[vs.length - 1] });
      }
    }
    cands.sort((a, b) => b.value - a.value);
    const next: typeof beam = [];
    for (const c of cands.slice(0, width)) {
      if (c.terminal) {
        const verdict = judge.judge(problem, c.steps);
        if (verdict.answer !== null) answers.push({ steps: c.steps, value: c.value, answer: verdict.answer, correct: verdict.correct });
        width--;
      } else if (depth + 1 >= maxDepth) {
        width--;
      } else {
        next.push({ steps: c.steps, handle: c.handle });
      }
    }
    beam = next;
  }
  return answers.sort((a, b) => b.value - a.value);
}
