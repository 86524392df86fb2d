import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigs, merge, parseArgs, RECIPES, stagePlan, validateConfig } from '../src/index.js';

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
    for (const st of validateConfig(sppd).rounds.flatMap((r) => r.train)) expect(st.train.chosenNll).toBe(0);
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

  it('the shipped configs/sppd-4000.json is the full sppd recipe with only its documented fields changed', () => {
    const file = fileURLToPath(new URL('../configs/sppd-4000.json', import.meta.url));
    const large = loadConfig({ recipe: 'sppd', preset: 'full', out: 'x', help: false, config: file });
    const full = loadConfig({ recipe: 'sppd', preset: 'full', out: 'x', help: false });
    // docs/experiments.md, "SPPD at 4000 problems per round": a cheaper tree and scorer, SFT at 1e-4, and the
    // chosen side's NLL (weight 1) in the DPO and SPPD stages.
    const expected = merge(full, { task: { trainProblems: 4000, testProblems: 1000 }, sample: { iterations: 8 }, score: { rollouts: 2 } });
    expected.rounds[0].train[0].train.lr = 1e-4;
    for (const st of expected.rounds.flatMap((r) => r.train)) if (st.train.objective !== 'sft') st.train.chosenNll = 1;
    expect(large).toEqual(expected);
  });

  it('names the offending field', () => {
    const c = RECIPES.sppd.config('quick');
    expect(() => validateConfig(merge(c, { sample: { iterations: 0 } }))).toThrow(/sample\.iterations/);
    expect(() => validateConfig(merge(c, { score: { scorer: 'gpt' } }))).toThrow(/score\.scorer/);
    expect(() => validateConfig(merge(c, { task: { levels: [5] } }))).toThrow(/task\.levels\[0\]/);
    expect(() => validateConfig(merge(c, { smaple: {} }))).toThrow(/config\.smaple/);
    const bad = merge(c, { rounds: [{ train: [{ name: 'x', label: 'x', data: 'siblings', train: { lr: 3 } }] }] });
    expect(() => validateConfig(bad)).toThrow(/rounds\[0\]\.train\[0\]\.train\.lr/);
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
