/**
 * The generation half of `stepwise bench engine`: an SPPD tree (methods.md §7.1) generated with forked KV caches
 * vs independent sampling of the same paths.
 *
 * Shape (K = 64, C = 2): K expansions, each turning one node into C children, each child one reasoning step of
 * exactly `stepTokens` sampled tokens (no stop token, so both modes do the same amount of generation). So the
 * tree has K·C = 128 step nodes under a prompt of `promptTokens`. The expansion schedule mirrors
 * packages/search/src/tree-sample.ts with `walkers` walkers per round: every walker descends from the root to a
 * node without children (at most `maxDepth` steps deep), the distinct nodes reached are expanded together in one
 * generate call (C sequences each), and rounds repeat until K expansions are done. Unlike tree-sample, a walker
 * picks a child uniformly at random (seeded) instead of by its mean log-prob: the tree's shape, and so the work,
 * is then identical in both modes whatever tiny float differences do to the sampled tokens.
 *
 * - fork: the prompt is prefilled once; an expansion forks the node's sequence into C children that share every
 *   computed K/V block; each child computes only its own step (plus the parent's pending last token).
 * - independent: the same schedule, but every child is a fresh sequence holding its whole prefix (prompt + all
 *   ancestor steps) that computes it from scratch before sampling, then is released: no sharing, no reuse.
 *
 * Both run the same batch shapes in the same order; computed tokens come from the cache's own counter.
 */
import { Rng } from '@stepwise/core';
import { KVCache, Model, type ModelConfig, type Sequence } from '@stepwise/native';

export interface TreeShape {
  name: string;
  /** One line for the printed table. */
  description: string;
  /** K: expansions. */
  expansions: number;
  /** C: children per expansion. */
  children: number;
  stepTokens: number;
  promptTokens: number;
  walkers: number;
  maxDepth: number;
}

export interface GenRecord {
  shape: string;
  mode: 'fork' | 'independent';
  expansions: number;
  nodes: number;
  rounds: number;
  /** Mean tokens of context (prompt + ancestor steps) of the expanded nodes. */
  meanPrefixTokens: number;
  maxDepth: number;
  generatedTokens: number;
  computedTokens: number;
  seconds: number;
  tokensPerSec: number;
}

export interface TreeComparison {
  shape: TreeShape;
  fork: GenRecord;
  independent: GenRecord;
  /** independent computed tokens / fork computed tokens (target >= 3). */
  computeRatio: number;
  /** independent seconds / fork seconds (target >= 2). */
  wallRatio: number;
}

export const SPPD_TREE: TreeShape = {
  name: 'sppd-K64-C2',
  description: 'K=64 expansions x C=2 children of one 24-token step, prompt 128, 8 walkers per round',
  expansions: 64,
  children: 2,
  stepTokens: 24,
  promptTokens: 128,
  walkers: 8,
  maxDepth: 12,
};

const TREE_MODEL: ModelConfig = { vocabSize: 4096, hiddenSize: 256, intermediateSize: 688, numLayers: 4, numHeads: 4, numKvHeads: 2, maxSeqLen: 1024 };

const now = (): number => Number(process.hrtime.bigint()) / 1e9;

interface Node {
  depth: number;
  /** Prompt + ancestor steps + this node's step. */
  length: number;
  children: number[];
  /** fork mode: the node's sequence until it is expanded (its children then hold its blocks). */
  seq?: Sequence;
  /** independent mode: the node's full token list. */
  tokens?: Int32Array;
}

/** The nodes the walkers of one round reach: distinct nodes without children, in walker order, at most `limit`. */
function walk(nodes: Node[], rng: Rng, shape: TreeShape, limit: number): number[] {
  const need: number[] = [];
  for (let w = 0; w < shape.walkers && need.length < limit; w++) {
    let at = 0;
    while (nodes[at]!.children.length > 0) at = nodes[at]!.children[rng.int(nodes[at]!.children.length)]!;
    if (nodes[at]!.depth < shape.maxDepth && !need.includes(at)) need.push(at);
  }
  return need;
}

async function growTree(model: Model, shape: TreeShape, mode: 'fork' | 'independent'): Promise<GenRecord> {
  using cache = new KVCache(model, { budgetTokens: 32768, blockSize: 16 });
  const prompt = Int32Array.from({ length: shape.promptTokens }, (_, i) => (i * 37) % TREE_MODEL.vocabSize);
  const rng = new Rng(7).split('bench-engine/tree');
  const t0 = now();
  const nodes: Node[] = [{ depth: 0, length: prompt.length, children: [] }];
  if (mode === 'fork') {
    nodes[0]!.seq = cache.sequence(prompt);
    await cache.prefill([nodes[0]!.seq]);
  } else nodes[0]!.tokens = prompt;
  let expansions = 0;
  let rounds = 0;
  let generated = 0;
  let prefixSum = 0;
  while (expansions < shape.expansions) {
    const need = walk(nodes, rng, shape, shape.expansions - expansions);
    if (need.length === 0) throw new Error('bench tree: every reachable node is at maxDepth');
    const seqs: Sequence[] = [];
    for (const id of need) {
      const node = nodes[id]!;
      prefixSum += node.length;
      if (mode === 'fork') {
        seqs.push(...node.seq!.fork(shape.children));
        node.seq!.release();
        node.seq = undefined;
      } else for (let c = 0; c < shape.children; c++) seqs.push(cache.sequence(node.tokens!));
    }
    const gens = await cache.generate(seqs, { maxNewTokens: shape.stepTokens, temperature: 1, topK: 50, seed: rounds });
    need.forEach((id, i) => {
      const parent = nodes[id]!;
      for (let c = 0; c < shape.children; c++) {
        const k = i * shape.children + c;
        const seq = seqs[k]!;
        generated += gens[k]!.tokens.length;
        const child: Node = { depth: parent.depth + 1, length: parent.length + gens[k]!.tokens.length, children: [] };
        if (mode === 'fork') child.seq = seq;
        else {
          child.tokens = seq.tokens();
          seq.release();
        }
        parent.children.push(nodes.length);
        nodes.push(child);
      }
    });
    expansions += need.length;
    rounds++;
  }
  const seconds = now() - t0;
  const computed = cache.stats().computedTokens;
  for (const n of nodes) n.seq?.release();
  return {
    shape: shape.name,
    mode,
    expansions,
    nodes: nodes.length - 1,
    rounds,
    meanPrefixTokens: prefixSum / expansions,
    maxDepth: Math.max(...nodes.map((n) => n.depth)),
    generatedTokens: generated,
    computedTokens: computed,
    seconds,
    tokensPerSec: generated / seconds,
  };
}

/** The old shape, kept for comparison: every node samples K = 64 tokens, then forks into C = 2; depth 3 (14 nodes). */
async function growLevels(model: Model, mode: 'fork' | 'independent', promptTokens: number): Promise<GenRecord> {
  const K = 64;
  const C = 2;
  const depth = 3;
  using cache = new KVCache(model, { budgetTokens: 16384, blockSize: 16 });
  const prompt = Int32Array.from({ length: promptTokens }, (_, i) => (i * 37) % TREE_MODEL.vocabSize);
  const sample = { maxNewTokens: K, temperature: 1, topK: 50, seed: 3 };
  const t0 = now();
  let generated = 0;
  let nodes = 0;
  let prefixSum = 0;
  if (mode === 'fork') {
    const root = cache.sequence(prompt);
    await cache.prefill([root]);
    let level: Sequence[] = [root];
    for (let d = 0; d < depth; d++) {
      prefixSum += level.reduce((a, s) => a + s.tokens().length, 0);
      const next = level.flatMap((s) => s.fork(C));
      for (const s of level) s.release();
      const g = await cache.generate(next, sample);
      generated += g.reduce((a, x) => a + x.tokens.length, 0);
      nodes += next.length;
      level = next;
    }
    for (const s of level) s.release();
  } else {
    let prefixes: Int32Array[] = [prompt];
    for (let d = 0; d < depth; d++) {
      prefixSum += prefixes.reduce((a, p) => a + p.length, 0);
      const seqs = prefixes.flatMap((p) => Array.from({ length: C }, () => cache.sequence(p)));
      const g = await cache.generate(seqs, sample);
      generated += g.reduce((a, x) => a + x.tokens.length, 0);
      nodes += seqs.length;
      prefixes = seqs.map((s) => s.tokens());
      for (const s of seqs) s.release();
    }
  }
  const seconds = now() - t0;
  return {
    shape: 'levels-64tok-C2-depth3',
    mode,
    expansions: 7,
    nodes,
    rounds: depth,
    meanPrefixTokens: prefixSum / 7,
    maxDepth: depth,
    generatedTokens: generated,
    computedTokens: cache.stats().computedTokens,
    seconds,
    tokensPerSec: generated / seconds,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * Runs fork and independent `reps` times each, alternating (so a change in machine load hits both), and keeps
 * the run with the median seconds of each mode.
 */
async function compare(run: (mode: 'fork' | 'independent') => Promise<GenRecord>, shape: TreeShape, reps: number): Promise<TreeComparison> {
  const runs: Record<'fork' | 'independent', GenRecord[]> = { fork: [], independent: [] };
  for (let r = 0; r < reps; r++) for (const mode of ['fork', 'independent'] as const) runs[mode].push(await run(mode));
  const pick = (rs: GenRecord[]) => {
    const m = median(rs.map((x) => x.seconds));
    return rs.reduce((best, x) => (Math.abs(x.seconds - m) < Math.abs(best.seconds - m) ? x : best));
  };
  const fork = pick(runs.fork);
  const independent = pick(runs.independent);
  return { shape, fork, independent, computeRatio: independent.computedTokens / fork.computedTokens, wallRatio: independent.seconds / fork.seconds };
}

export async function benchGeneration(quick: boolean, log: (s: string) => void): Promise<TreeComparison[]> {
  using model = Model.create(TREE_MODEL, { seed: 2, initStd: 0.05 });
  const reps = quick ? 1 : 3;
  const out: TreeComparison[] = [];
  const describe = (g: GenRecord) =>
    `${g.shape} ${g.mode}: ${g.nodes} nodes in ${g.rounds} rounds, ${g.generatedTokens} tokens in ${g.seconds.toFixed(2)} s = ${g.tokensPerSec.toFixed(0)} tok/s (${g.computedTokens} computed)`;
  const sppd = await compare((mode) => growTree(model, SPPD_TREE, mode), SPPD_TREE, reps);
  log(describe(sppd.fork));
  log(describe(sppd.independent));
  out.push(sppd);
  const levelsShape: TreeShape = {
    name: 'levels-64tok-C2-depth3',
    description: 'older shape: every node samples 64 tokens then forks into C=2, depth 3, one call per level, prompt 128',
    expansions: 7,
    children: 2,
    stepTokens: 64,
    promptTokens: 128,
    walkers: 4,
    maxDepth: 3,
  };
  const levels = await compare((mode) => growLevels(model, mode, levelsShape.promptTokens), levelsShape, reps);
  log(describe(levels.fork));
  log(describe(levels.independent));
  out.push(levels);
  return out;
}

/** The printed table of the generation comparisons. */
export function printGeneration(cmp: TreeComparison[]): void {
  for (const c of cmp) {
    const s = c.shape;
    console.log(`generation: ${s.name} (${s.description})`);
    console.log('  mode          nodes  rounds  mean prefix  generated  computed   seconds   tok/s');
    for (const g of [c.fork, c.independent])
      console.log(
        `  ${g.mode.padEnd(12)} ${String(g.nodes).padStart(6)} ${String(g.rounds).padStart(7)} ${g.meanPrefixTokens.toFixed(0).padStart(12)} ${String(g.generatedTokens).padStart(10)} ${String(g.computedTokens).padStart(9)} ${g.seconds.toFixed(2).padStart(9)} ${g.tokensPerSec.toFixed(0).padStart(7)}`,
      );
    const verdict = (v: number, target: number) => `${v.toFixed(2)}x (target >= ${target}x: ${v >= target ? 'met' : 'NOT met'})`;
    console.log(`  forking computes ${verdict(c.computeRatio, 3)} fewer tokens; wall-clock ${verdict(c.wallRatio, 2)}`);
  }
}
