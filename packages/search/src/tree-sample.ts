/**
 * SPPD tree-based self-sampling (methods.md §7.1). Each iteration walks from the root to a terminal node:
 * a node without children is expanded with C sampled next steps, then one child is drawn with probability
 * proportional to softmax(score / τ) of its mean token log-prob (or, as an option, the scores normalised by
 * their sum). Every root-to-terminal path is a complete solution.
 *
 * Batching: `walkers` iterations walk at once; each round, every walker that stands on an unexpanded node asks
 * for it, identical nodes are expanded once, and all requests go to the policy in one call, so a native
 * backend batches across the whole frontier. walkers = 1 reproduces the strictly sequential algorithm.
 */
import { Rng, type Problem, type Tree } from '@stepwise/core';

import {
  type Judge,
  type Policy,
  type SampleOptions,
  type SearchProgress,
  meanLogprob,
  requireInt,
  requireNumber,
} from './policy.js';
import { TreeBuilder } from './tree-builder.js';

export interface TreeSampleOptions {
  /** K: walks from the root. Default 64 (SPPD §6.1). */
  iterations?: number;
  /** C: children sampled when a node is expanded. Default 2 (SPPD §6.1). */
  children?: number;
  /** How sibling scores become selection probabilities. Default 'softmax' (methods.md §10.3: unspecified in the paper). */
  selection?: 'softmax' | 'sum';
  /** Softmax temperature τ over mean token log-probs. Default 1. */
  selectionTemperature?: number;
  /** Depth (steps) at which a node is forced terminal. Default 12. */
  maxDepth?: number;
  /** Walks advanced together (one policy call per round). Default 8. */
  walkers?: number;
  /** Sampling options for expansions. Default temperature 1. */
  sampling?: SampleOptions;
  seed?: number | string;
  onProgress?: (p: SearchProgress) => void;
}

export interface TreeSampleResult {
  tree: Tree;
  /** Node ids of each walk's terminal node, in iteration order. */
  walkEnds: number[];
  policyCalls: number;
  tokensGenerated: number;
}

export async function treeSample(problem: Problem, policy: Policy, judge: Judge, opts: TreeSampleOptions = {}): Promise<TreeSampleResult> {
  const K = opts.iterations ?? 64;
  const C = opts.children ?? 2;
  const tau = opts.selectionTemperature ?? 1;
  const maxDepth = opts.maxDepth ?? 12;
  const walkers = opts.walkers ?? 8;
  requireInt('iterations', K, 1);
  requireInt('children', C, 1);
  requireInt('maxDepth', maxDepth, 1);
  requireInt('walkers', walkers, 1);
  requireNumber('selectionTemperature', tau, 1e-6);
  const selection = opts.selection ?? 'softmax';
  const rng = new Rng(opts.seed ?? 0).split(`tree-sample/${problem.id}`);
  const sampling: SampleOptions = { temperature: 1, ...opts.sampling };
  const b = new TreeBuilder(problem, judge, ['selectionScore']);
  const walkEnds: number[] = [];
  let policyCalls = 0;
  let tokensGenerated = 0;

  const isEnd = (node: number) => b.tree.terminal[node] || b.tree.depth[node] >= maxDepth;

  let started = 0;
  while (started < K) {
    const batch = Math.min(walkers, K - started);
    let positions = Array.from({ length: batch }, () => 0);
    const walkRngs = Array.from({ length: batch }, (_, w) => rng.split(started + w));
    started += batch;
    while (positions.some((p) => !isEnd(p))) {
      // Expand every distinct unexpanded node that some live walker stands on, in one policy call.
      const need = [...new Set(positions.filter((p) => !isEnd(p) && b.children[p].length === 0))];
      if (need.length > 0) {
        const states = need.map((node) => ({ problem, steps: b.steps(node), handle: b.handles[node] }));
        const result = await policy.expand(states, C, { ...sampling, seed: rng.split(`call${policyCalls}`).nextUint32() });
        policyCalls++;
        need.forEach((node, i) => {
          for (const cand of result[i]) {
            const child = b.add(node, cand, b.tree.depth[node] + 1 >= maxDepth);
            b.stat('selectionScore')[child] = meanLogprob(cand);
            tokensGenerated += cand.tokenLogprobs.length;
          }
        });
      }
      positions = positions.map((p, w) => (isEnd(p) ? p : pickChild(b, p, selection, tau, walkRngs[w])));
    }
    walkEnds.push(...positions);
    opts.onProgress?.({ problemsDone: 0, tokensGenerated, policyCalls });
  }
  return { tree: b.tree, walkEnds, policyCalls, tokensGenerated };
}

/** Draws a child of `node` by its selection score (mean token log-prob). */
function pickChild(b: TreeBuilder, node: number, selection: 'softmax' | 'sum', tau: number, rng: Rng): number {
  const kids = b.children[node];
  const scores = kids.map((k) => b.stat('selectionScore')[k]);
  let weights: number[];
  if (selection === 'softmax') {
    const m = Math.max(...scores);
    weights = scores.map((s) => Math.exp((s - m) / tau));
  } else {
    // Sum-normalisation of the (negative) mean log-probs: a less negative score gets more mass, via 1/|s|.
    weights = scores.map((s) => 1 / Math.max(1e-9, -s));
  }
  return kids[rng.categorical(weights)];
}
