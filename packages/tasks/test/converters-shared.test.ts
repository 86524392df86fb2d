import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  FormatError,
  fromMathShepherd,
  fromTrlStepwise,
  parseDatasetJsonl,
  parsePrm800k,
  prm800kStepPairs,
  prm800kToStepLabelled,
  readDatasetJsonl,
  readPrm800k,
  serializePrm800k,
  stepLabelledToPrm800k,
  toMathShepherd,
  toTrlStepwise,
} from '../src/index.js';
import { sharedFile } from './shared-data.js';

const slice = sharedFile('prm800k/prm800k_slice.jsonl');
const openrPrm = sharedFile('prm800k/samples_prm800k.jsonl');
const example = sharedFile('prm800k/prm800k-phase1-train-example.json');
const shepherd = sharedFile('prm800k/samples_math-shepherd.jsonl');

describe.skipIf(!slice || !openrPrm || !example)('PRM800K (shared samples)', () => {
  it('parses every record and serializes it back to the same JSON', () => {
    for (const path of [slice!, openrPrm!]) {
      for (const { line, value } of readDatasetJsonl(path)) {
        expect(serializePrm800k(parsePrm800k(value, { file: path, line }))).toEqual(value);
      }
    }
    const ex = readPrm800k(example!);
    expect(ex).toHaveLength(3);
    const raw = readFileSync(example!, 'utf8');
    expect(JSON.stringify(ex[0].question.problem)).toBe(JSON.stringify(JSON.parse(raw.slice(0, raw.indexOf('\n}') + 2)).question.problem));
  });

  it('matches the documented counts: 8 records, 82 steps, 214 completions, 207 rated', () => {
    const recs = readPrm800k(slice!);
    expect(recs).toHaveLength(8);
    expect(recs.reduce((n, r) => n + r.label.steps.length, 0)).toBe(82);
    const comps = recs.flatMap((r) => r.label.steps.flatMap((s) => s.completions ?? []));
    expect(comps).toHaveLength(214);
    expect(comps.filter((c) => c.rating !== null)).toHaveLength(207);
    expect(recs.map((r) => r.label.finish_reason).sort()).toEqual(['found_error', 'give_up', 'give_up', 'solution', 'solution', 'solution', 'solution', 'solution']);
  });

  it('derives step labels and sibling pairs from the labelled path', () => {
    const recs = readPrm800k(slice!);
    for (const r of recs) {
      const sol = prm800kToStepLabelled(r);
      expect(sol.steps.length).toBe(sol.labels.length);
      expect(sol.steps.length).toBeGreaterThan(0);
      // Only the last step of a stopped session can be bad (labellers stop at the first error).
      if (r.label.finish_reason === 'found_error') expect(sol.labels.at(-1)).toBe(false);
      expect(toTrlStepwise(sol)).toEqual({ prompt: r.question.problem, completions: sol.steps, labels: sol.labels });
      expect(fromTrlStepwise(toTrlStepwise(sol))).toMatchObject({ prompt: sol.prompt, steps: sol.steps, labels: sol.labels });
      for (const p of prm800kStepPairs(r)) {
        expect(p.chosen).not.toBe(p.rejected);
        expect([p.chosenValue, p.rejectedValue]).toEqual([1, 0]);
      }
    }
    // Record 0's second step: the human wrote the fix after 5 bad completions.
    const first = prm800kToStepLabelled(recs[0]);
    expect(first.steps[1]).toBe('We have $3p+e=1.24$ and $5p+e=1.82$.');
    expect(first.labels.slice(0, 2)).toEqual([true, true]);
    // The neutral option flips exactly the steps whose chosen completion is rated 0.
    let neutralSteps = 0;
    for (const r of recs) {
      const a = prm800kToStepLabelled(r, { neutral: true }).labels;
      const b = prm800kToStepLabelled(r, { neutral: false }).labels;
      const zero = r.label.steps.slice(0, a.length).map((s) => s.chosen_completion !== null && s.completions![s.chosen_completion].rating === 0);
      expect(b).toEqual(a.map((x, i) => (zero[i] ? false : x)));
      neutralSteps += zero.filter(Boolean).length;
    }
    expect(neutralSteps).toBeGreaterThan(0);
    const edited = structuredClone(recs[0]);
    edited.label.steps[0].completions![0].rating = 0;
    expect(prm800kToStepLabelled(edited, { neutral: true }).labels[0]).toBe(true);
    expect(prm800kToStepLabelled(edited, { neutral: false }).labels[0]).toBe(false);
    expect(prm800kStepPairs(recs[0])).toEqual([]); // its one step with -1s has no +1 sibling (a human fixed it)
    expect(recs.flatMap((r) => prm800kStepPairs(r)).length).toBeGreaterThan(0);
  });

  it('exports step labels as a PRM800K record that converts back to the same labels', () => {
    const sol = { problemId: 'x', prompt: 'Q?', steps: ['a', 'b', 'c'], labels: [true, false, true], source: 'test' };
    const rec = stepLabelledToPrm800k(sol, '3');
    expect(parsePrm800k(serializePrm800k(rec))).toEqual(rec);
    expect(prm800kToStepLabelled(rec, { problemId: 'x' })).toEqual({ ...sol, source: 'prm800k' });
  });
});

describe.skipIf(!shepherd)('Math-Shepherd (shared samples)', () => {
  it('round-trips all 7 samples byte for byte and reads their labels', () => {
    const rows = readDatasetJsonl(shepherd!);
    expect(rows).toHaveLength(7);
    for (const { line, value } of rows) {
      const sol = fromMathShepherd(value, `ms/${line}`, { file: shepherd!, line });
      expect(sol.steps.every((s) => s.startsWith('Step '))).toBe(true);
      expect(toMathShepherd(sol, sol.task)).toEqual(value);
    }
    const first = fromMathShepherd(rows[0].value);
    expect(first.labels).toEqual([true, true, true, true, false]);
    expect(first.steps[0]).toBe('Step 1: Janet spends 3 hours + 5 hours = <<3+5=8>>8 hours per week on music lessons.');
    expect(first.prompt.endsWith('than clarinet lessons in a year?')).toBe(true);
    expect(fromMathShepherd(rows[4].value).labels).toEqual([true, false, false, false, false]);
  });

  it('names the field of a malformed record', () => {
    const v = readDatasetJsonl(shepherd!)[0].value as { input: string; label: string; task: string };
    const bad = (rec: unknown) => {
      try {
        fromMathShepherd(rec, '', { file: 'ms.jsonl', line: 4 });
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        return e as FormatError;
      }
      throw new Error('expected FormatError');
    };
    expect(bad({ ...v, label: v.label.replace(' +\n', ' ?\n') })).toMatchObject({ file: 'ms.jsonl', line: 4, field: 'label' });
    expect(bad({ ...v, label: v.label.replace('Janet', 'Jan') })).toMatchObject({ field: 'label' });
    expect(bad({ ...v, input: v.input.slice(0, -3) })).toMatchObject({ field: 'input' });
    // A missing tag inside merges two steps, which the label (still tagged there) then contradicts.
    expect(bad({ ...v, input: v.input.replace(' ки\n', '\n') })).toMatchObject({ field: 'label' });
    expect(bad({ ...v, input: v.input.replace('Step 1:', 'First:') })).toMatchObject({ field: 'input' });
    expect(bad({ input: v.input, label: v.label })).toMatchObject({ field: 'task' });
  });
});

describe('PRM800K malformed input', () => {
  it('names file, line and the nested field', () => {
    const good = '{"labeler":"a","timestamp":"t","generation":null,"is_quality_control_question":false,"is_initial_screening_question":false,"question":{"problem":"p","ground_truth_answer":"1"},"label":{"steps":[{"completions":[{"text":"s","rating":1,"flagged":false}],"human_completion":null,"chosen_completion":0}],"total_time":1,"finish_reason":"solution"}}';
    const rows = parseDatasetJsonl(`${good}\n${good.replace('"rating":1', '"rating":2')}\n`, 'p.jsonl');
    expect(parsePrm800k(rows[0].value, { file: 'p.jsonl', line: rows[0].line }).label.steps).toHaveLength(1);
    expect(() => parsePrm800k(rows[1].value, { file: 'p.jsonl', line: rows[1].line })).toThrow(
      'p.jsonl:2: field label.steps[0].completions[0].rating',
    );
    const rec = JSON.parse(good);
    rec.label.steps[0].chosen_completion = 3;
    expect(() => parsePrm800k(rec)).toThrow(/label\.steps\[0\]\.chosen_completion/);
    rec.label.steps[0].chosen_completion = 0;
    rec.label.finish_reason = 'done';
    expect(() => parsePrm800k(rec)).toThrow(/label\.finish_reason/);
    delete rec.question.problem;
    expect(() => parsePrm800k(rec)).toThrow(/question\.problem/);
  });
});
