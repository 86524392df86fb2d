/**
 * EnginePolicy over a tiny random model. The model speaks a 16-symbol alphabet so that a random init stops at
 * the separator often enough to build multi-level trees; its init is wide (initStd 0.3) so the distributions
 * are far from uniform and a wrong log-prob cannot pass by accident. The LM-head rows of PAD/BOS/EOS are
 * zeroed (logit 0, below most others), so that most steps end at the separator rather than at a special token.
 */
import { CharTokenizer, type Problem, validateTree } from '@stepwise/core';
import { Model } from '@stepwise/native';
import { answerJudge, type PrefixState, type StepCandidate, treeSample } from '@stepwise/search';
import { afterAll, describe, expect, it } from 'vitest';

import { BackendArgumentError, EnginePolicy } from '../src/index.js';

const tok = new CharTokenizer('\n0123456789 +=Ta');
const model = Model.create(
  { vocabSize: tok.vocabSize, hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 2, maxSeqLen: 96 },
  { seed: 7, initStd: 0.3 },
);
{
  const head = model.getTensor('lm_head.weight');
  for (const id of [tok.padId!, tok.bosId!, tok.eosId!]) head.fill(0, id * 32, (id + 1) * 32);
  model.setTensor('lm_head.weight', head);
}
afterAll(() => model.dispose());

const problem: Problem = { id: 'p0', question: '12+30=', answer: '42', source: 'test' };
const other: Problem = { id: 'p1', question: '7+8=', answer: '15', source: 'test' };
const newPolicy = (extra = {}) =>
  new EnginePolicy(model, { tokenizer: tok, renderPrompt: (p) => p.question + '\n', finalAnswerMarker: 'aTa', maxStepTokens: 20, cacheTokens: 8192, ...extra });

/** The tokens a state stands for: its handle's (what the model saw), else its encoded text. */
const prefixOf = (policy: EnginePolicy, state: PrefixState): number[] =>
  state.handle ? Array.from((state.handle as { tokens(): Int32Array }).tokens()) : policy.encodeState(state.problem, state.steps);
const special = (id: number | undefined) => id === tok.bosId || id === tok.padId;

/** Recomputes log p of every candidate token with model.forward on the whole sequence (no cache). */
async function recomputed(policy: EnginePolicy, state: PrefixState, c: StepCandidate): Promise<number[]> {
  const prefix = prefixOf(policy, state);
  const out = await model.forward({ tokens: [...prefix, ...c.tokenIds] });
  return c.tokenIds.map((_, j) => out.tokenLogp[prefix.length - 1 + j]);
}

describe('EnginePolicy.expand', () => {
  it('returns n candidates per state whose log-probs equal a full recomputation, in one generate call per expand', async () => {
    const policy = newPolicy();
    const roots: PrefixState[] = [
      { problem, steps: [] },
      { problem: other, steps: [] },
      { problem, steps: ['12+30=42'] },
    ];
    const first = await policy.expand(roots, 3, { temperature: 1, seed: 11 });
    expect(policy.stats.generateCalls).toBe(1);
    expect(first.map((r) => r.length)).toEqual([3, 3, 3]);
    // Second level: every non-terminal child of the first two roots, from their handles, in one call.
    const next: PrefixState[] = [];
    first.slice(0, 2).forEach((cands, i) =>
      cands.forEach((c) => {
        if (!c.terminal) next.push({ problem: roots[i].problem, steps: [...roots[i].steps, c.text], handle: c.handle });
      }),
    );
    expect(next.length).toBeGreaterThan(0);
    const second = await policy.expand(next, 2, { temperature: 0.8, seed: 12, topK: 10 });
    expect(policy.stats.generateCalls).toBe(2);
    const checks: [PrefixState, StepCandidate][] = [
      ...first.flatMap((cands, i) => cands.map((c) => [roots[i], c] as [PrefixState, StepCandidate])),
      ...second.flatMap((cands, i) => cands.map((c) => [next[i], c] as [PrefixState, StepCandidate])),
    ];
    let compared = 0;
    for (const [state, c] of checks) {
      expect(c.tokenLogprobs.length).toBe(c.tokenIds.length);
      expect(c.tokenIds.length).toBeGreaterThan(0);
      const ref = await recomputed(policy, state, c);
      for (let j = 0; j < ref.length; j++) expect(Math.abs(c.tokenLogprobs[j] - ref[j])).toBeLessThan(1e-4);
      compared += ref.length;
      // The handle holds exactly prefix + step tokens; the text is the step without its stop token.
      const seq = c.handle as { tokens(): Int32Array };
      expect(Array.from(seq.tokens())).toEqual([...prefixOf(policy, state), ...c.tokenIds]);
      const last = c.tokenIds.at(-1);
      const stopped = last === tok.encode('\n')[0] || last === tok.eosId;
      expect(c.text).toBe(tok.decode(stopped ? c.tokenIds.slice(0, -1) : c.tokenIds));
      // A text-form step continues exactly as its re-encoded text; a step with BOS/PAD must end the solution.
      if (c.tokenIds.some(special)) expect(c.terminal).toBe(true);
      else expect(c.terminal).toBe(c.text.includes('aTa') || last !== tok.encode('\n')[0]);
      if (!c.terminal) expect(Array.from(seq.tokens())).toEqual(policy.encodeState(state.problem, [...state.steps, c.text]));
    }
    expect(compared).toBeGreaterThan(50);
    policy.dispose();
  });

  it('is deterministic by seed, and greedy forks agree', async () => {
    const run = async (seed: number, temperature: number) => {
      const policy = newPolicy();
      const r = await policy.expand([{ problem, steps: [] }], 4, { temperature, seed });
      policy.dispose();
      return r[0].map((c) => c.tokenIds.join(','));
    };
    expect(await run(5, 1)).toEqual(await run(5, 1));
    const a = await run(5, 1);
    const b = await run(6, 1);
    expect(a).not.toEqual(b);
    const greedy = await run(1, 0);
    expect(new Set(greedy).size).toBe(1);
  });

  it('shares a node cache with its children: computed tokens = prompt + generated, nothing recomputed', async () => {
    const policy = newPolicy();
    const promptLen = policy.encodeState(problem, []).length;
    let frontier: PrefixState[] = [{ problem, steps: [] }];
    let generated = 0;
    let nodes = 0;
    for (let depth = 0; depth < 3 && frontier.length > 0; depth++) {
      const res = await policy.expand(frontier, 3, { temperature: 1, seed: 100 + depth });
      const next: PrefixState[] = [];
      res.forEach((cands, i) =>
        cands.forEach((c) => {
          generated += c.tokenIds.length;
          nodes++;
          if (!c.terminal) next.push({ problem, steps: [...frontier[i].steps, c.text], handle: c.handle });
        }),
      );
      frontier = next;
    }
    const s = policy.cache.stats();
    expect(nodes).toBeGreaterThan(6);
    expect(s.recomputedTokens).toBe(0);
    expect(s.evictions).toBe(0);
    // Each prompt token but the pending last one is computed once (prefill); each child then computes its
    // parent's pending token and its own tokens but its own pending last one: exactly its generated count.
    expect(s.computedTokens).toBe(promptLen - 1 + generated);
    // Independent sampling of the same nodes would compute every node's whole prefix again.
    expect(generated).toBe(policy.stats.tokensGenerated);
    policy.dispose();
  });

  it('reuses the sequence of a handle-less prompt across calls and releases handles', async () => {
    const policy = newPolicy({ promptCacheSize: 2 });
    const a = await policy.expand([{ problem, steps: [] }, { problem, steps: [] }], 1, { temperature: 1, seed: 1 });
    const computed = policy.cache.stats().computedTokens;
    await policy.expand([{ problem, steps: [] }], 1, { temperature: 1, seed: 2 });
    expect(policy.stats.sequencesFromText).toBe(1);
    // Only the pending prompt token and the new step's tokens were computed by the second call.
    const b = policy.cache.stats().computedTokens - computed;
    expect(b).toBeLessThanOrEqual(20);
    const before = policy.cache.stats().sequences;
    policy.release(a.flat().map((c) => c.handle));
    expect(policy.cache.stats().sequences).toBe(before - 2);
    policy.clearPromptCache();
    expect(policy.cache.stats().sequences).toBe(before - 3);
    policy.dispose();
  });

  it('merges concurrent expand calls into one generate and draws what each call draws alone', async () => {
    const calls: [PrefixState[], number, number][] = [
      [[{ problem, steps: [] }], 3, 21],
      [[{ problem: other, steps: [] }, { problem, steps: ['12+30=42'] }], 2, 22],
    ];
    const tokens = (r: StepCandidate[][][]) => r.map((x) => x.map((cands) => cands.map((c) => c.tokenIds.join(','))));
    const one = newPolicy();
    const alone: StepCandidate[][][] = [];
    for (const [states, n, seed] of calls) alone.push(await one.expand(states, n, { temperature: 1, seed }));
    expect(one.stats.generateCalls).toBe(2);
    const shared = newPolicy();
    const merged = await Promise.all(calls.map(([states, n, seed]) => shared.expand(states, n, { temperature: 1, seed })));
    expect(shared.stats.generateCalls).toBe(1);
    expect(tokens(merged)).toEqual(tokens(alone));
    // A call with other sampling settings runs in its own generate; a bad call fails alone.
    const mixed = await Promise.allSettled([
      shared.expand([{ problem, steps: [] }], 1, { temperature: 1, seed: 1 }),
      shared.expand([{ problem, steps: [] }], 1, { temperature: 0, seed: 1 }),
      shared.expand([{ problem, steps: [], handle: merged[0][0][0].handle }], 1, { temperature: 1, seed: 2 }),
      shared.expand([{ problem, steps: [], handle: alone[0][0][0].handle }], 1, { temperature: 1, seed: 3 }),
    ]);
    expect(mixed.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect(String((mixed[3] as PromiseRejectedResult).reason)).toMatch(/states\[0\]\.handle/);
    expect(shared.stats.generateCalls).toBe(3);
    // A call still waiting for its batch when the policy is disposed fails instead of hanging.
    const waiting = shared.expand([{ problem, steps: [] }], 1, { temperature: 1, seed: 4 });
    shared.dispose();
    await expect(waiting).rejects.toThrow(/disposed/);
    one.dispose();
  });

  it('throws typed errors naming the argument', async () => {
    const policy = newPolicy();
    const other = newPolicy();
    const [[c]] = await other.expand([{ problem, steps: [] }], 1, { temperature: 1 });
    await expect(policy.expand([{ problem, steps: [], handle: c.handle }], 1, { temperature: 1 })).rejects.toThrow(/states\[0\]\.handle/);
    await expect(policy.expand([{ problem, steps: [] }], -1, { temperature: 1 })).rejects.toBeInstanceOf(BackendArgumentError);
    await expect(policy.expand([{ problem, steps: [] }], 1, { temperature: -1 })).rejects.toThrow(/opts\.temperature/);
    other.release([c.handle]);
    await expect(other.expand([{ problem, steps: ['x'], handle: c.handle }], 1, { temperature: 1 })).rejects.toThrow(/released/);
    expect(() => newPolicy({ separator: '\n\n' })).toThrow(/separator/);
    expect(() => newPolicy({ cacheTokens: 0 })).toThrow(/cacheTokens/);
    policy.dispose();
    other.dispose();
  });
});

describe('treeSample over EnginePolicy', () => {
  it('builds a valid tree, deterministic by seed, from one policy call per round', async () => {
    const sample = async (seed: number) => {
      const policy = newPolicy();
      const r = await treeSample(problem, policy, answerJudge(), { iterations: 16, children: 2, maxDepth: 4, walkers: 8, seed });
      const stats = { ...policy.cache.stats() };
      policy.dispose();
      return { r, stats };
    };
    const { r, stats } = await sample(3);
    validateTree(r.tree);
    expect(r.walkEnds.length).toBe(16);
    for (const end of r.walkEnds) expect(r.tree.terminal[end] || r.tree.depth[end] >= 4).toBe(true);
    // Every non-leaf has exactly C = 2 children.
    const kids = new Map<number, number>();
    r.tree.parent.forEach((p) => p >= 0 && kids.set(p, (kids.get(p) ?? 0) + 1));
    for (const n of kids.values()) expect(n).toBe(2);
    expect(Math.max(...r.tree.depth)).toBeGreaterThanOrEqual(2);
    expect(stats.recomputedTokens).toBe(0);
    const again = await sample(3);
    expect(again.r.tree).toEqual(r.tree);
    const other = await sample(4);
    expect(other.r.tree).not.toEqual(r.tree);
  });
});
