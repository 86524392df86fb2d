/**
 * answersEqual(pred, gold): extraction → normalisation → structured parse → comparison.
 * Never throws: bad input, parse failures and the work budget all end in a verdict with a reason.
 */
import { Budget, BudgetExceeded } from './budget.js';
import { proportionalSign, exprEquivalent, type Tolerance } from './evaluate.js';
import { extractAnswer } from './extract.js';
import { normalizeAnswer } from './latex.js';
import { freeSymbols, type Node } from './parse.js';
import { parseAnswer, type RelOp, type Value } from './structure.js';

export interface GradeOptions {
  /** Relative tolerance for numbers that are not both exact (default 1e-4, as the Qwen2.5-Math grader). */
  relTol?: number;
  /** Absolute tolerance, mainly for answers near zero (default 1e-6). */
  absTol?: number;
  /**
   * Math-Verify style rounding: when set, two numbers are equal if they differ by at most 10^-precision
   * (used when one side is a rounded decimal such as 0.33 for 1/3). Overrides neither tolerance above; it adds one.
   */
  precision?: number;
  /** Run extraction on both sides (default true). Set false when both strings are already final answers. */
  extract?: boolean;
  /** Work cap per comparison: parser/evaluator steps (default 200 000) and CPU time in ms (default 80; see budget.ts for why CPU time —
   *  it includes V8's compiler and GC threads, so a cold first call can use tens of ms). */
  maxSteps?: number;
  maxMillis?: number;
  /** Seed of the random evaluation points (default fixed, so grading is reproducible). */
  seed?: number;
}

export type EqualReason =
  | 'string' // identical after normalisation
  | 'exact' // equal by exact rational arithmetic
  | 'numeric' // equal within tolerance (numbers, or expressions at random points)
  | 'structure' // equal as tuple/interval/set/matrix/list, element by element
  | 'relation' // equivalent equations/inequalities
  | 'different' // compared and found different
  | 'no-answer' // nothing could be extracted from one side
  | 'kind-mismatch' // e.g. an interval against a number
  | 'budget' // the work cap was hit: treated as not equal
  | 'invalid-input' // not a string
  | 'internal-error'; // a grader bug: reported as not equal so grading goes on, but visible in the reason

export interface Verdict {
  equal: boolean;
  reason: EqualReason;
  pred: string | null; // the extracted, normalised prediction
  gold: string | null;
}

/** Longest normalised answer that is parsed structurally. */
export const MAX_ANSWER_CHARS = 4000;

const DEFAULTS = { relTol: 1e-4, absTol: 1e-6, maxSteps: 200_000, maxMillis: 80, seed: 20240607 };

interface Ctx {
  tol: Tolerance;
  budget: Budget;
  seed: number;
}

type Cmp = { equal: boolean; reason: EqualReason };
const yes = (reason: EqualReason): Cmp => ({ equal: true, reason });
const no = (reason: EqualReason = 'different'): Cmp => ({ equal: false, reason });

function compareExpr(a: Node, b: Node, ctx: Ctx): Cmp {
  const v = exprEquivalent(a, b, ctx.tol, ctx.budget, ctx.seed);
  return v.equal ? yes(v.how === 'exact' ? 'exact' : 'numeric') : no();
}

const FLIP: Record<RelOp, RelOp> = { '=': '=', '≠': '≠', '<': '>', '>': '<', '≤': '≥', '≥': '≤' };

type Rel = { op: RelOp; lhs: Node; rhs: Node };

function compareRelations(a: Rel, b: Rel, ctx: Ctx): Cmp {
  // Compare f = lhs − rhs with its relation; a < b is (−f) > 0, so fold < and ≤ into > and ≥.
  const fold = (op: RelOp, lhs: Node, rhs: Node): [RelOp, Node] => {
    const f: Node = { t: 'add', terms: [lhs, { t: 'neg', a: rhs }] };
    if (op === '<' || op === '≤') return [FLIP[op], { t: 'neg', a: f }];
    return [op, f];
  };
  const [opA, fA] = fold(a.op, a.lhs, a.rhs);
  const [opB, fB] = fold(b.op, b.lhs, b.rhs);
  if (opA !== opB) return no();
  const sign = proportionalSign(fA, fB, ctx.tol, ctx.budget, ctx.seed);
  if (sign === 0) return no();
  if (opA === '=' || opA === '≠') return yes('relation');
  return sign > 0 ? yes('relation') : no();
}

/** x > 5 as the interval (5, ∞) etc., so that it can meet an interval answer. */
function relationAsInterval(r: Extract<Value, { kind: 'relation' }>): Value | null {
  const lv = freeSymbols(r.lhs);
  const rv = freeSymbols(r.rhs);
  let op = r.op;
  let bound: Node;
  if (r.lhs.t === 'sym' && lv.size === 1 && rv.size === 0) bound = r.rhs;
  else if (r.rhs.t === 'sym' && rv.size === 1 && lv.size === 0) {
    bound = r.lhs;
    op = FLIP[op];
  } else return null;
  const b: Value = { kind: 'expr', node: bound, src: '' };
  const inf: Value = { kind: 'expr', node: { t: 'const', name: 'inf' }, src: '∞' };
  const ninf: Value = { kind: 'expr', node: { t: 'neg', a: { t: 'const', name: 'inf' } }, src: '-∞' };
  switch (op) {
    case '>':
      return { kind: 'interval', lo: b, hi: inf, loClosed: false, hiClosed: false };
    case '≥':
      return { kind: 'interval', lo: b, hi: inf, loClosed: true, hiClosed: false };
    case '<':
      return { kind: 'interval', lo: ninf, hi: b, loClosed: false, hiClosed: false };
    case '≤':
      return { kind: 'interval', lo: ninf, hi: b, loClosed: false, hiClosed: true };
    default:
      return null;
  }
}

function compareOrdered(a: Value[], b: Value[], ctx: Ctx): Cmp {
  if (a.length !== b.length) return no();
  for (let i = 0; i < a.length; i++) if (!compareValues(a[i]!, b[i]!, ctx).equal) return no();
  return yes('structure');
}

/** Set comparison: duplicates collapse, every element on each side must match one on the other. */
function compareUnordered(a: Value[], b: Value[], ctx: Ctx): Cmp {
  const dedupe = (xs: Value[]): Value[] => {
    const out: Value[] = [];
    for (const x of xs) if (!out.some((y) => compareValues(x, y, ctx).equal)) out.push(x);
    return out;
  };
  const da = dedupe(a);
  const db = dedupe(b);
  if (da.length !== db.length) return no();
  const used = new Array<boolean>(db.length).fill(false);
  for (const x of da) {
    const j = db.findIndex((y, k) => !used[k] && compareValues(x, y, ctx).equal);
    if (j < 0) return no();
    used[j] = true;
  }
  return yes('structure');
}

function collapse(items: Value[], ctx: Ctx): Value | null {
  const first = items[0];
  if (!first || !items.every((x) => compareValues(first, x, ctx).equal)) return null;
  return first;
}

function textOf(v: Value): string | null {
  if (v.kind === 'text') return v.text;
  if (v.kind === 'expr' || v.kind === 'relation') return v.src.replace(/\s+/g, '');
  return null;
}

export function compareValues(a: Value, b: Value, ctx: Ctx): Cmp {
  ctx.budget.tick();
  // A decimal-comma reading ("1,22") meets a single number.
  if (a.kind === 'list' && a.decimalAlt && b.kind === 'expr' && compareValues(a.decimalAlt, b, ctx).equal) return yes('numeric');
  if (b.kind === 'list' && b.decimalAlt && a.kind === 'expr' && compareValues(a, b.decimalAlt, ctx).equal) return yes('numeric');
  // "15\frac{39}{40} or \frac{639}{40}": a list whose items are all the same value is that value.
  if (a.kind === 'list' && !a.decimalAlt && b.kind !== 'list' && b.kind !== 'set' && b.kind !== 'tuple') {
    const one = collapse(a.items, ctx);
    return one ? compareValues(one, b, ctx) : no('kind-mismatch');
  }
  if (b.kind === 'list' && !b.decimalAlt && a.kind !== 'list' && a.kind !== 'set' && a.kind !== 'tuple') {
    const one = collapse(b.items, ctx);
    return one ? compareValues(a, one, ctx) : no('kind-mismatch');
  }
  if (a.kind === 'text' || b.kind === 'text') {
    const ta = textOf(a);
    const tb = textOf(b);
    return ta !== null && ta === tb ? yes('string') : no(ta === null || tb === null ? 'kind-mismatch' : 'different');
  }
  switch (a.kind) {
    case 'expr':
      if (b.kind === 'expr') return compareExpr(a.node, b.node, ctx);
      if (b.kind === 'relation' && a.eq) return compareRelations(a.eq, b, ctx);
      return no('kind-mismatch');
    case 'relation': {
      if (b.kind === 'relation') return compareRelations(a, b, ctx);
      // "y = -x/2 + 3/4" was read as its right-hand side; against a real equation it is an equation again.
      if (b.kind === 'expr' && b.eq) return compareRelations(a, b.eq, ctx);
      if (b.kind === 'interval' || b.kind === 'union' || (b.kind === 'tuple' && b.items.length === 2)) {
        const iv = relationAsInterval(a);
        return iv ? compareValues(iv, b, ctx) : no('kind-mismatch');
      }
      return no('kind-mismatch');
    }
    case 'list':
      if (b.kind === 'list' || b.kind === 'set') return compareUnordered(a.items, b.items, ctx);
      // "1, 3" against "(1, 3)": the tuple's order is the answer's order.
      if (b.kind === 'tuple') return compareOrdered(a.items, b.items, ctx);
      return no('kind-mismatch');
    case 'set':
      if (b.kind === 'set' || b.kind === 'list') return compareUnordered(a.items, b.items, ctx);
      return no('kind-mismatch');
    case 'tuple':
      if (b.kind === 'tuple') return compareOrdered(a.items, b.items, ctx);
      if (b.kind === 'list') return compareOrdered(a.items, b.items, ctx);
      if (b.kind === 'interval' && a.items.length === 2 && !b.loClosed && !b.hiClosed) {
        return compareOrdered(a.items, [b.lo, b.hi], ctx);
      }
      if (b.kind === 'relation') return compareValues(b, a, ctx);
      return no('kind-mismatch');
    case 'interval':
      if (b.kind === 'interval') {
        if (a.loClosed !== b.loClosed || a.hiClosed !== b.hiClosed) return no();
        return compareOrdered([a.lo, a.hi], [b.lo, b.hi], ctx);
      }
      if (b.kind === 'tuple' || b.kind === 'relation') return compareValues(b, a, ctx);
      if (b.kind === 'union' && b.parts.length === 1) return compareValues(a, b.parts[0]!, ctx);
      return no('kind-mismatch');
    case 'union':
      if (b.kind === 'union') return compareUnordered(a.parts, b.parts, ctx);
      if (b.kind === 'relation') return compareValues(b, a, ctx);
      return no('kind-mismatch');
    case 'matrix': {
      if (b.kind !== 'matrix' || a.rows.length !== b.rows.length) return no(b.kind === 'matrix' ? 'different' : 'kind-mismatch');
      for (let i = 0; i < a.rows.length; i++) if (!compareOrdered(a.rows[i]!, b.rows[i]!, ctx).equal) return no();
      return yes('structure');
    }
  }
}

/**
 * Readings of answers that contain `%`. "What percent…" answers are graded as the number (28% = 28, as
 * NeMo-Skills and Math-Verify do), and 28% is also 0.28. When both sides carry a % they must be read the
 * same way, so 50% never equals 0.5%.
 */
function percentReadings(p: string, g: string): [string, string][] {
  const strip = (s: string) => s.replace(/%/g, '');
  const div = (s: string) => s.replace(/%/g, ' /100 ');
  const hp = p.includes('%');
  const hg = g.includes('%');
  if (hp && hg) return [[strip(p), strip(g)], [div(p), div(g)]];
  if (hp) return [[strip(p), g], [div(p), g]];
  if (hg) return [[p, strip(g)], [p, div(g)]];
  return [[p, g]];
}

function prepare(raw: string, extract: boolean): string | null {
  const got = extract ? extractAnswer(raw) : raw;
  if (got === null) return null;
  const n = normalizeAnswer(got);
  return n === '' ? null : n;
}

/** Compares a prediction with a reference answer and says why. */
export function compareAnswers(pred: unknown, gold: unknown, opts: GradeOptions = {}): Verdict {
  if (typeof pred !== 'string' || typeof gold !== 'string') return { equal: false, reason: 'invalid-input', pred: null, gold: null };
  const o = { ...DEFAULTS, ...opts };
  const budget = new Budget(o.maxSteps, o.maxMillis);
  let p: string | null = null;
  let g: string | null = null;
  try {
    const ex = opts.extract ?? true;
    p = prepare(pred, ex);
    g = prepare(gold, ex);
    if (p === null || g === null) return { equal: false, reason: 'no-answer', pred: p, gold: g };
    if (p.replace(/\s+/g, '') === g.replace(/\s+/g, '')) return { equal: true, reason: 'string', pred: p, gold: g };
    // Final answers are short; a normalised "answer" longer than this is a runaway extraction and is only
    // compared as a string (above), which keeps the structural parse bounded.
    if (p.length > MAX_ANSWER_CHARS || g.length > MAX_ANSWER_CHARS) return { equal: false, reason: 'budget', pred: p, gold: g };
    budget.checkClock();
    const absTol = o.precision !== undefined ? Math.max(o.absTol, 10 ** -o.precision * 1.0000001) : o.absTol;
    const ctx: Ctx = { tol: { relTol: o.relTol, absTol }, budget, seed: o.seed };
    let r: Cmp = no();
    for (const [a, b] of percentReadings(p, g)) {
      r = compareValues(parseAnswer(a, budget), parseAnswer(b, budget), ctx);
      if (r.equal) break;
    }
    return { ...r, pred: p, gold: g };
  } catch (e) {
    if (e instanceof BudgetExceeded) return { equal: false, reason: 'budget', pred: p, gold: g };
    // Any other failure is a grader bug; grading must still go on, and "not equal" is the safe side.
    return { equal: false, reason: 'internal-error', pred: p, gold: g };
  }
}

/** True when the prediction's final answer equals the reference answer. */
export function answersEqual(pred: string, gold: string, opts?: GradeOptions): boolean {
  return compareAnswers(pred, gold, opts).equal;
}
