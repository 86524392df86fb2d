/**
 * Deterministic generation of arith-v1 problems and the fixed train/test splits.
 *
 * Disjointness: the test split of a level is the first TEST_RESERVOIR problems drawn from the seed namespace
 * "arith-v1|test|<level>". Training problems come from "arith-v1|train|<seed>|<level>" and any draw whose
 * arithmetic (start + operations, ignoring names, nouns and distractors) equals a test problem's is redrawn.
 * So any test split of size <= TEST_RESERVOIR is disjoint from every training set, even in its arithmetic.
 */
import { Rng, type Problem } from '@stepwise/core';
import { TaskArgumentError } from '../errors.js';
import { formatAnswer, formatStep, renderQuestion, solutionText, promptText } from './format.js';
import {
  MAX_CONTEXT_CHARS,
  NAMES,
  NOUNS,
  TASK_NAME,
  TASK_SOURCE,
  mathSignature,
  resolveConfig,
  runningValues,
  type ArithConfig,
  type ArithOp,
  type ArithOperation,
  type ArithSpec,
  type Distractor,
  type Level,
} from './spec.js';

/** Size of the reserved test pool per preset level; testSplit(level, n) takes its first n problems. */
export const TEST_RESERVOIR = 1000;

export type Split = 'train' | 'test';

/** The gold reference steps of a spec: one line per operation, then the answer line. */
export function referenceSteps(spec: ArithSpec): string[] {
  const values = runningValues(spec);
  const steps = spec.operations.map((o, k) => formatStep(k + 1, values[k], o.op, o.operand, values[k + 1]));
  steps.push(formatAnswer(values[values.length - 1]));
  return steps;
}

/** Draw one spec that satisfies the config and the character caps (resampling from the same stream). */
export function drawSpec(rng: Rng, config: ArithConfig): ArithSpec {
  for (let attempt = 0; attempt < 1000; attempt++) {
    const spec = drawOnce(rng, config);
    const question = renderQuestion(spec);
    if (question.length > config.maxQuestionChars) continue;
    if (promptText(question).length + solutionText(referenceSteps(spec)).length > MAX_CONTEXT_CHARS) continue;
    return spec;
  }
  throw new TaskArgumentError('config', 'settings that fit maxQuestionChars and the 256-char context', config);
}

function drawOnce(rng: Rng, c: ArithConfig): ArithSpec {
  const name = rng.pick(NAMES);
  const noun = rng.pick(NOUNS);
  const start = rng.intRange(c.start[0], c.start[1]);
  const nSteps = rng.intRange(c.steps[0], c.steps[1]);
  const operations: ArithOperation[] = [];
  let v = start;
  for (let k = 0; k < nSteps; k++) {
    const o = drawOperation(rng, c, v);
    operations.push(o);
    v = o.op === '+' ? v + o.operand : o.op === '-' ? v - o.operand : o.op === '*' ? v * o.operand : v / o.operand;
  }
  const nDistractors = rng.intRange(c.distractors[0], c.distractors[1]);
  const distractors: Distractor[] = [];
  const distractorSlots: number[] = [];
  const usedNames = new Set([name]);
  const usedNouns = new Set([noun]);
  for (let i = 0; i < nDistractors; i++) {
    const dName = rng.pick(NAMES.filter((n) => !usedNames.has(n)));
    const dNoun = rng.pick(NOUNS.filter((n) => !usedNouns.has(n)));
    usedNames.add(dName);
    usedNouns.add(dNoun);
    // Distractor values look like the real quantities (same range), so copying one is a plausible slip.
    distractors.push({ name: dName, noun: dNoun, value: rng.intRange(c.addend[0], Math.max(c.addend[1], c.factor[1])) });
    distractorSlots.push(rng.intRange(0, nSteps));
  }
  // Keep distractors in reading order so parseQuestion(renderQuestion(spec)) returns the same spec.
  const order = distractorSlots.map((s, i) => [s, i]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return {
    name,
    noun,
    start,
    operations,
    distractors: order.map(([, i]) => distractors[i]),
    distractorSlots: order.map(([s]) => s),
  };
}

/** An operation valid for the current value: results stay integers in [1, maxValue]. */
function drawOperation(rng: Rng, c: ArithConfig, v: number): ArithOperation {
  const feasible: { op: ArithOp; lo: number; hi: number; divisors?: number[] }[] = [];
  for (const op of c.ops) {
    if (op === '+') {
      const hi = Math.min(c.addend[1], c.maxValue - v);
      if (hi >= c.addend[0]) feasible.push({ op, lo: c.addend[0], hi });
    } else if (op === '-') {
      const hi = Math.min(c.addend[1], v - 1);
      if (hi >= c.addend[0]) feasible.push({ op, lo: c.addend[0], hi });
    } else if (op === '*') {
      const hi = Math.min(c.factor[1], Math.floor(c.maxValue / v));
      if (hi >= c.factor[0]) feasible.push({ op, lo: c.factor[0], hi });
    } else {
      const divisors: number[] = [];
      for (let d = c.factor[0]; d <= c.factor[1]; d++) if (v % d === 0 && v / d >= 1) divisors.push(d);
      if (divisors.length > 0) feasible.push({ op, lo: 0, hi: 0, divisors });
    }
  }
  if (feasible.length === 0) {
    // Unreachable for validated configs (maxValue >= 2 * addend[0] keeps + or - open); a bug if it happens.
    throw new TaskArgumentError('config', 'maxValue >= 2 * addend[0] so that + or - is always possible', c);
  }
  const f = rng.pick(feasible);
  return { op: f.op, operand: f.divisors ? rng.pick(f.divisors) : rng.intRange(f.lo, f.hi) };
}

/** Wrap a spec as a core Problem; `meta` carries the spec so consumers need not re-parse the text. */
export function toProblem(spec: ArithSpec, id: string, level: Level | 'custom'): Problem {
  const steps = referenceSteps(spec);
  const values = runningValues(spec);
  return {
    id,
    question: renderQuestion(spec),
    answer: String(values[values.length - 1]),
    source: TASK_SOURCE,
    solutionSteps: steps,
    meta: { task: TASK_NAME, level, steps: spec.operations.length, spec },
  };
}

function levelKey(levelOrConfig: Level | ArithConfig): { key: string; level: Level | 'custom' } {
  if (typeof levelOrConfig === 'number') return { key: `L${levelOrConfig}`, level: levelOrConfig };
  return { key: `custom:${JSON.stringify(levelOrConfig)}`, level: 'custom' };
}

const testCache = new Map<string, ArithSpec[]>();
const testSignatures = new Map<string, Set<string>>();

function testReservoir(levelOrConfig: Level | ArithConfig): ArithSpec[] {
  const config = resolveConfig(levelOrConfig);
  const { key } = levelKey(levelOrConfig);
  let specs = testCache.get(key);
  if (!specs) {
    const root = new Rng(`${TASK_NAME}|test|${key}`);
    specs = [];
    const seen = new Set<string>();
    // Redraw duplicates so every test problem has distinct arithmetic (level 1 has only a few thousand).
    const size = config.testPool ?? TEST_RESERVOIR;
    for (let i = 0; i < size; i++) {
      for (let attempt = 0; ; attempt++) {
        const spec = drawSpec(attempt === 0 ? root.split(i) : root.split(`${i}/retry${attempt}`), config);
        if (!seen.has(mathSignature(spec))) {
          seen.add(mathSignature(spec));
          specs.push(spec);
          break;
        }
        if (attempt > 10_000) throw new TaskArgumentError('level.testPool', `at most the number of distinct problems (found ${i})`, size);
      }
    }
    testCache.set(key, specs);
    testSignatures.set(key, seen);
  }
  return specs;
}

/** The fixed held-out test problems of a level (the first `count` of its reservoir; ids arith-v1/test/L<l>/<i>). */
export function testSplit(levelOrConfig: Level | ArithConfig, count = 500): Problem[] {
  const size = resolveConfig(levelOrConfig).testPool ?? TEST_RESERVOIR;
  if (!Number.isInteger(count) || count < 0 || count > size) {
    throw new TaskArgumentError('count', `an integer in [0, ${size}] (the test pool size)`, count);
  }
  const { key, level } = levelKey(levelOrConfig);
  return testReservoir(levelOrConfig)
    .slice(0, count)
    .map((spec, i) => toProblem(spec, `${TASK_NAME}/test/${key}/${i}`, level));
}

/** True when the spec's arithmetic equals a reserved test problem's (such a spec is never used for training). */
export function isTestSignature(levelOrConfig: Level | ArithConfig, spec: ArithSpec): boolean {
  testReservoir(levelOrConfig);
  return testSignatures.get(levelKey(levelOrConfig).key)!.has(mathSignature(spec));
}

/**
 * Training problem `index` of the stream for (level, seed). Random access: the same (level, seed, index)
 * always gives the same problem, so a corpus or sampler can be resumed at any index.
 */
export function trainProblem(levelOrConfig: Level | ArithConfig, seed: number | string, index: number): Problem {
  if (!Number.isInteger(index) || index < 0) throw new TaskArgumentError('index', 'an integer >= 0', index);
  const config = resolveConfig(levelOrConfig);
  const { key, level } = levelKey(levelOrConfig);
  const root = new Rng(`${TASK_NAME}|train|${seed}|${key}`).split(index);
  for (let attempt = 0; ; attempt++) {
    const spec = drawSpec(attempt === 0 ? root : root.split(`retry${attempt}`), config);
    if (!isTestSignature(levelOrConfig, spec)) return toProblem(spec, `${TASK_NAME}/train/${seed}/${key}/${index}`, level);
    if (attempt > 10_000) throw new TaskArgumentError('level', 'a config with more problems than its test reservoir', key);
  }
}

/** `count` consecutive training problems starting at `offset`. */
export function trainProblems(levelOrConfig: Level | ArithConfig, count: number, seed: number | string = 0, offset = 0): Problem[] {
  if (!Number.isInteger(count) || count < 0) throw new TaskArgumentError('count', 'an integer >= 0', count);
  if (!Number.isInteger(offset) || offset < 0) throw new TaskArgumentError('offset', 'an integer >= 0', offset);
  const out: Problem[] = [];
  for (let i = 0; i < count; i++) out.push(trainProblem(levelOrConfig, seed, offset + i));
  return out;
}
