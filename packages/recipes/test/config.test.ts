import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigs, merge, parseArgs, RECIPES, stagePlan, trainProblems, validateConfig } from '../src/index.js';

describe('pipeline config', () => {
  it('every recipe and preset validates, with a plan that ends in eval and report', () => {
    for (const r of Object.values(RECIPES))
      for (const preset of ['quick', 'full'] as const) {
        const c = validateConfig(r.config(preset));
        const plan = stagePlan(c);
        expect(plan[0]).toBe('base');
        expect(plan.slice(-2)).toEqual(['eval', 'report']);
        expect(c.score.scorer === 'oracle').toBe(r.name === 'sppd-oracle'); // the oracle is never a default
      }
  });

  it('svpo samples with MCTS and sphere with the pruned search; the others with the SPPD tree sampler', () => {
    const sampler = (name: string) => validateConfig(RECIPES[name].config('quick')).sample.sampler;
    expect(sampler('svpo')).toBe('mcts');
    expect(sampler('sphere')).toBe('pruned');
    for (const r of Object.keys(RECIPES).filter((n) => n !== 'svpo' && n !== 'sphere')) expect(sampler(r)).toBe('tree');
    const svpo = validateConfig(RECIPES.svpo.config('full'));
    expect([svpo.sample.iterations, svpo.sample.children, svpo.sample.cPuct, svpo.score.scorer, svpo.eval.search]).toEqual([40, 5, 1.5, 'search', 'beam']);
    expect(svpo.rounds[0].train[0].data).toBe('q-value');
  });

  it('train.chosenNll defaults to 0 (the papers\' losses) and a negative weight is refused, naming the field', () => {
    const sppd = RECIPES.sppd.config('quick');
    // A stage that does not set it gets 0; the dpo recipe's stages set nothing.
    const unset = merge(sppd, { rounds: [{ train: [{ name: 's', label: 's', data: 'siblings', train: { objective: 'sppd' } }] }] });
    expect(validateConfig(unset).rounds[0].train[0].train.chosenNll).toBe(0);
    for (const st of validateConfig(RECIPES.dpo.config('quick')).rounds.flatMap((r) => r.train)) expect(st.train.chosenNll).toBe(0);
    const bad = merge(sppd, { rounds: [{ train: [{ name: 's', label: 's', data: 'siblings', train: { objective: 'sppd', chosenNll: -1 } }] }] });
    expect(() => validateConfig(bad)).toThrow(/rounds\[0\]\.train\[0\]\.train\.chosenNll/);
  });

  it('rejects a sampler with a scorer or pair rule it cannot feed, naming the field', () => {
    const sppd = RECIPES.sppd.config('quick');
    expect(() => validateConfig(merge(sppd, { sample: { sampler: 'beam' } }))).toThrow(/sample\.sampler/);
    // Q-value pairs need MCTS statistics; the tree sampler has none.
    const qOnTree = merge(sppd, { rounds: [{ train: [{ name: 'q', label: 'q', data: 'q-value', train: {} }] }] });
    expect(() => validateConfig(qOnTree)).toThrow(/rounds\[0\]\.train\[0\]\.data.*'mcts'/);
    // MCTS and pruned trees carry their own values ('search'); a tree scorer is an error and vice versa.
    expect(() => validateConfig(merge(RECIPES.svpo.config('quick'), { score: { scorer: 'mc' } }))).toThrow(/score\.scorer.*'search'/);
    expect(() => validateConfig(merge(sppd, { score: { scorer: 'search' } }))).toThrow(/score\.scorer/);
    // The surprise value head reads tree paths: a tree scorer only.
    expect(validateConfig(merge(sppd, { score: { scorer: 'surprise' } })).score.scorer).toBe('surprise');
    expect(() => validateConfig(merge(RECIPES.svpo.config('quick'), { score: { scorer: 'surprise' } }))).toThrow(/score\.scorer.*'search'/);
    const sphereSiblings = merge(RECIPES.sphere.config('quick'), { rounds: [{ train: [{ name: 's', label: 's', data: 'siblings', train: {} }] }] });
    expect(() => validateConfig(sphereSiblings)).toThrow(/rounds\[0\]\.train\[0\]\.data/);
    expect(() => validateConfig(merge(sppd, { eval: { search: 'mcts' } }))).toThrow(/eval\.search/);
    expect(() => validateConfig(merge(sppd, { pairs: { qPairsPerNode: 0 } }))).toThrow(/pairs\.qPairsPerNode/);
    expect(() => validateConfig(merge(sppd, { sample: { weakTemperature: 0 } }))).toThrow(/sample\.weakTemperature/);
  });

  it("'all' loads every recipe's config, the --config file merged into each", () => {
    const cs = loadConfigs({ recipe: 'all', preset: 'quick', out: 'x', help: false });
    expect(cs.map((c) => c.recipe)).toEqual(Object.keys(RECIPES));
    expect(cs.map((c) => c.recipe)).toEqual(expect.arrayContaining(['sppd', 'sppd-gamma0', 'sppd-fixed']));
  });

  it('the full sppd preset (the main job) has the shape docs/pipeline.md documents', () => {
    const c = loadConfig({ recipe: 'sppd', preset: 'full', out: 'x', help: false });
    expect([c.task.trainProblems, c.task.testProblems, c.eval.sampledProblems]).toEqual([3000, 1000, 300]);
    expect([c.sample.iterations, c.sample.children, c.score.scorer, c.score.rollouts]).toEqual([8, 2, 'mc', 2]);
    expect(c.rounds.map((r) => r.problems)).toEqual([undefined, 1000]);
    const [sft, dpo, sppd] = c.rounds[0].train.map((s) => s.train);
    expect([sft.objective, sft.lr, sft.epochs]).toEqual(['sft', 1e-4, 3]);
    for (const st of [dpo, sppd, c.rounds[1].train[0].train]) expect([st.epochs, st.chosenNll, st.lr]).toEqual([1, 1, 5e-6]);
    expect([sppd.objective, sppd.margin, sppd.gamma, sppd.beta]).toEqual(['sppd', 'dynamic', 1, 0.1]);
    // The margin ablation differs from sppd only in the margin.
    const g0 = loadConfig({ recipe: 'sppd-gamma0', preset: 'full', out: 'x', help: false });
    expect(g0.rounds[0].train[2].train.margin).toBe('none');
    expect({ ...g0, recipe: 'sppd', rounds: [] }).toEqual({ ...c, rounds: [] });
  });

  it('the quick preset (the e2e test) is the main job at its data scale on the small base model', () => {
    const q = loadConfig({ recipe: 'sppd', preset: 'quick', out: 'x', help: false });
    const f = loadConfig({ recipe: 'sppd', preset: 'full', out: 'x', help: false });
    expect(f.base.model).toEqual({ numLayers: 4, hiddenSize: 128, intermediateSize: 352, numHeads: 4 });
    expect(q.base.model).toEqual({ numLayers: 2, hiddenSize: 64, intermediateSize: 176, numHeads: 2 });
    expect([q.base.steps, q.task.trainProblems, q.task.testProblems, q.eval.samples, q.eval.sampledProblems]).toEqual([2000, 3000, 1000, 4, 0]);
    // Same training stages and the same stage-2 problem count: only the model, its schedule and the eval differ.
    expect(q.rounds).toEqual(f.rounds);
  });

  it('names the offending field', () => {
    const c = RECIPES.sppd.config('quick');
    expect(() => validateConfig(merge(c, { sample: { iterations: 0 } }))).toThrow(/sample\.iterations/);
    expect(() => validateConfig(merge(c, { score: { scorer: 'gpt' } }))).toThrow(/score\.scorer/);
    expect(() => validateConfig(merge(c, { task: { levels: [5] } }))).toThrow(/task\.levels\[0\]/);
    expect(() => validateConfig(merge(c, { smaple: {} }))).toThrow(/config\.smaple/);
    const bad = merge(c, { rounds: [{ train: [{ name: 'x', label: 'x', data: 'siblings', train: { lr: 3 } }] }] });
    expect(() => validateConfig(bad)).toThrow(/rounds\[0\]\.train\[0\]\.train\.lr/);
    expect(() => validateConfig(merge(c, { sample: { batchProblems: 0 } }))).toThrow(/sample\.batchProblems/);
    expect(() => validateConfig(merge(c, { eval: { sampledProblems: -1 } }))).toThrow(/eval\.sampledProblems/);
    expect(() => validateConfig(merge(c, { base: { model: { numHeads: 3 } } }))).toThrow(/base\.model\.numHeads.*even head width/);
    expect(() => validateConfig(merge(c, { base: { model: { hiddenSize: 64, numHeads: 64 } } }))).toThrow(/base\.model\.numHeads/);
    expect(() => validateConfig(merge(c, { base: { model: { layers: 2 } } }))).toThrow(/base\.model\.layers/);
    expect(() => validateConfig(merge(c, { base: { model: { numLayers: 0 } } }))).toThrow(/base\.model\.numLayers/);
    const rounds = validateConfig(c).rounds;
    expect(() => validateConfig({ ...c, rounds: [{ ...rounds[0], problems: 0 }] })).toThrow(/rounds\[0\]\.problems/);
  });

  it('a round may take its own number of training problems (stage 2 fewer than round 1)', () => {
    const c = RECIPES.sppd.config('quick');
    const v = validateConfig({ ...c, rounds: [c.rounds[0], { ...c.rounds[1], problems: 10 }] });
    expect(trainProblems(v, 1).length).toBe(c.task.trainProblems);
    expect(trainProblems(v, 2).length).toBe(10);
    // task.trainProblems caps every round: lowering it scales the recipe's stage 2 down with it.
    const tiny = validateConfig(merge(RECIPES.sppd.config('quick'), { task: { trainProblems: 24 } }));
    expect(tiny.rounds[1].problems).toBe(1000);
    expect([trainProblems(tiny, 1).length, trainProblems(tiny, 2).length]).toEqual([24, 24]);
    // Round 2's problems are its own draw (another seed path), not round 1's first ten.
    expect(trainProblems(v, 2)[0].question).not.toBe(trainProblems(v, 1)[0].question);
  });

  it('parses flags with usage errors for unknown ones', () => {
    expect(parseArgs('pipeline', ['--recipe', 'dpo', '--preset', 'quick'], true)).toMatchObject({ recipe: 'dpo', preset: 'quick', out: 'runs/dpo-quick' });
    expect(() => parseArgs('pipeline', ['--preset', 'huge'], true)).toThrow(/--preset/);
    expect(() => parseArgs('pipeline', ['--frobnicate'], true)).toThrow(/--frobnicate/);
    expect(() => parseArgs('pipeline', ['--stages', 'base,cook'], true)).toThrow(/cook/);
    expect(parseArgs('pipeline', ['--base-from', 'runs/sppd/ckpt/base'], true).baseFrom).toBe('runs/sppd/ckpt/base');
    expect(() => parseArgs('pipeline', ['--base-from'], true)).toThrow(/--base-from needs a value/);
    expect(() => loadConfig({ recipe: 'nope', preset: 'full', out: 'x', help: false })).toThrow(/recipe/);
  });
});
