/**
 * Deciding whether two parsed expressions are equal.
 *
 * 1. Exact: when both sides evaluate to rationals (integers, fractions, integer powers, perfect roots) at the
 *    same variable assignment, they are compared exactly. With no variables this is a proof.
 * 2. Numeric: otherwise both sides are evaluated in complex floating point and compared with the tolerances of
 *    GradeOptions. With variables, each side is evaluated at several pseudo-random points (a fixed seed, so
 *    grading is reproducible). Agreement at random points is the Schwartz–Zippel style argument: two different
 *    rational functions agree at a random point with tiny probability. The risk is documented in docs/grading.md:
 *    functions that differ only on a thin set (e.g. |x| vs x away from the sampled positive range) can be judged
 *    equal, because points are drawn from a positive range to keep √x and log x on their real branches.
 */
import { Budget } from './budget.js';
import { freeSymbols, hasApprox, type Node } from './parse.js';
import * as Q from './rational.js';
import type { Rational } from './rational.js';

export interface Tolerance {
  relTol: number;
  absTol: number;
}

type Complex = { re: number; im: number };
const C = (re: number, im = 0): Complex => ({ re, im });

// ---------------------------------------------------------------------------------------------------------------
// Exact evaluation

class NotRational extends Error {}

function exactEval(n: Node, env: Map<string, Rational>, budget: Budget): Rational {
  budget.tick();
  const need = (r: Rational | null): Rational => {
    if (r === null) throw new NotRational();
    return r;
  };
  switch (n.t) {
    case 'num':
      return n.v;
    case 'sym': {
      const v = env.get(n.name);
      if (!v) throw new NotRational();
      return v;
    }
    case 'const':
      throw new NotRational();
    case 'add': {
      let acc = Q.ZERO;
      for (const t of n.terms) acc = need(Q.add(acc, exactEval(t, env, budget)));
      return acc;
    }
    case 'mul': {
      let acc = Q.ONE;
      for (const f of n.factors) acc = need(Q.mul(acc, exactEval(f, env, budget)));
      return acc;
    }
    case 'div':
      return need(Q.div(exactEval(n.num, env, budget), exactEval(n.den, env, budget)));
    case 'neg':
      return Q.neg(exactEval(n.a, env, budget));
    case 'pow': {
      const b = exactEval(n.base, env, budget);
      const e = exactEval(n.exp, env, budget);
      if (Q.isInteger(e)) return need(Q.powInt(b, e.n));
      // b^(p/q) = (b^(1/q))^p when the root is exact.
      if (e.d > 12n) throw new NotRational();
      const r = need(Q.rootRational(b, Number(e.d)));
      return need(Q.powInt(r, e.n));
    }
    case 'root': {
      const k = exactEval(n.k, env, budget);
      if (!Q.isInteger(k) || k.n < 2n || k.n > 12n) throw new NotRational();
      return need(Q.rootRational(exactEval(n.a, env, budget), Number(k.n)));
    }
    case 'fact': {
      const a = exactEval(n.a, env, budget);
      if (!Q.isInteger(a) || a.n < 0n || a.n > 200n) throw new NotRational();
      let acc = 1n;
      for (let k = 2n; k <= a.n; k++) acc *= k;
      return need(Q.rat(acc));
    }
    case 'abs': {
      const a = exactEval(n.a, env, budget);
      return a.n < 0n ? Q.neg(a) : a;
    }
    default:
      throw new NotRational(); // functions, ±
  }
}

function tryExact(n: Node, env: Map<string, Rational>, budget: Budget): Rational | null {
  try {
    return exactEval(n, env, budget);
  } catch (e) {
    if (e instanceof NotRational) return null;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Complex floating-point evaluation

const cadd = (a: Complex, b: Complex): Complex => C(a.re + b.re, a.im + b.im);
const cmul = (a: Complex, b: Complex): Complex => C(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re);
function cdiv(a: Complex, b: Complex): Complex {
  const d = b.re * b.re + b.im * b.im;
  if (d === 0) return C(NaN, NaN);
  return C((a.re * b.re + a.im * b.im) / d, (a.im * b.re - a.re * b.im) / d);
}
const isReal = (a: Complex): boolean => Math.abs(a.im) <= 1e-12 * Math.max(1, Math.abs(a.re));
function cexp(a: Complex): Complex {
  const m = Math.exp(a.re);
  return a.im === 0 ? C(m) : C(m * Math.cos(a.im), m * Math.sin(a.im));
}
function clog(a: Complex): Complex {
  return C(Math.log(Math.hypot(a.re, a.im)), Math.atan2(a.im, a.re));
}
function cpow(b: Complex, e: Complex): Complex {
  if (isReal(e) && Number.isInteger(e.re) && Math.abs(e.re) <= 64) {
    let acc = C(1);
    const k = Math.abs(e.re);
    for (let i = 0; i < k; i++) acc = cmul(acc, b);
    return e.re < 0 ? cdiv(C(1), acc) : acc;
  }
  if (isReal(b) && isReal(e)) {
    if (b.re >= 0) return C(Math.pow(b.re, e.re));
    // Negative base, rational exponent with odd denominator: the real root (cube root of −8 is −2).
    const frac = toSmallFraction(e.re);
    if (frac && frac[1] % 2 === 1) {
      const mag = Math.pow(-b.re, e.re);
      return C(frac[0] % 2 === 0 ? mag : -mag);
    }
  }
  if (b.re === 0 && b.im === 0) return C(0);
  return cexp(cmul(e, clog(b)));
}
function toSmallFraction(x: number): [number, number] | null {
  for (let q = 1; q <= 12; q++) {
    const p = Math.round(x * q);
    if (Math.abs(p / q - x) < 1e-12) return [p, q];
  }
  return null;
}
function realFn(name: string, x: number): number {
  switch (name) {
    case 'sin':
      return Math.sin(x);
    case 'cos':
      return Math.cos(x);
    case 'tan':
      return Math.tan(x);
    case 'sec':
      return 1 / Math.cos(x);
    case 'csc':
      return 1 / Math.sin(x);
    case 'cot':
      return 1 / Math.tan(x);
    case 'arcsin':
      return Math.asin(x);
    case 'arccos':
      return Math.acos(x);
    case 'arctan':
      return Math.atan(x);
    case 'sinh':
      return Math.sinh(x);
    case 'cosh':
      return Math.cosh(x);
    case 'tanh':
      return Math.tanh(x);
    case 'ln':
      return Math.log(x);
    case 'exp':
      return Math.exp(x);
    default:
      return NaN;
  }
}
function gamma(x: number): number {
  if (Number.isInteger(x) && x >= 0 && x <= 170) {
    let acc = 1;
    for (let k = 2; k <= x; k++) acc *= k;
    return acc;
  }
  return NaN; // non-integer factorials do not occur in answers
}

function numEval(n: Node, env: Map<string, Complex>, budget: Budget): Complex {
  budget.tick();
  switch (n.t) {
    case 'num':
      return C(Q.toNumber(n.v));
    case 'sym':
      return env.get(n.name) ?? C(NaN, NaN);
    case 'const':
      return n.name === 'pi' ? C(Math.PI) : n.name === 'e' ? C(Math.E) : n.name === 'i' ? C(0, 1) : C(Infinity);
    case 'add':
      return n.terms.reduce((acc, t) => cadd(acc, numEval(t, env, budget)), C(0));
    case 'mul':
      return n.factors.reduce((acc, f) => cmul(acc, numEval(f, env, budget)), C(1));
    case 'div':
      return cdiv(numEval(n.num, env, budget), numEval(n.den, env, budget));
    case 'neg': {
      const a = numEval(n.a, env, budget);
      return C(-a.re, -a.im);
    }
    case 'pow':
      return cpow(numEval(n.base, env, budget), numEval(n.exp, env, budget));
    case 'root': {
      const k = numEval(n.k, env, budget);
      if (!isReal(k) || k.re === 0) return C(NaN, NaN);
      const a = numEval(n.a, env, budget);
      if (isReal(a) && a.re < 0 && Number.isInteger(k.re) && k.re % 2 === 1) return C(-Math.pow(-a.re, 1 / k.re));
      return cpow(a, C(1 / k.re));
    }
    case 'fn': {
      const a = numEval(n.a, env, budget);
      if (!isReal(a)) return C(NaN, NaN);
      const v = realFn(n.name, a.re);
      if (Number.isNaN(v) && n.name === 'ln' && a.re < 0) return C(Math.log(-a.re), Math.PI);
      return C(v);
    }
    case 'fact': {
      const a = numEval(n.a, env, budget);
      return isReal(a) ? C(gamma(Math.round(a.re) === a.re ? a.re : NaN)) : C(NaN, NaN);
    }
    case 'abs': {
      const a = numEval(n.a, env, budget);
      return C(Math.hypot(a.re, a.im));
    }
    case 'pm':
      return C(NaN, NaN); // expanded before evaluation
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Comparison

function hasInf(n: Node): boolean {
  switch (n.t) {
    case 'const':
      return n.name === 'inf';
    case 'num':
    case 'sym':
      return false;
    case 'add':
      return n.terms.some(hasInf);
    case 'mul':
      return n.factors.some(hasInf);
    case 'div':
      return hasInf(n.num) || hasInf(n.den);
    case 'pow':
      return hasInf(n.base) || hasInf(n.exp);
    case 'root':
      return hasInf(n.a) || hasInf(n.k);
    case 'pm':
      return hasInf(n.a) || hasInf(n.b);
    default:
      return hasInf(n.a);
  }
}

export function closeEnough(a: number, b: number, tol: Tolerance): boolean {
  if (a === b) return true; // also equal infinities
  if (!Number.isFinite(a) || !Number.isFinite(b)) return false;
  const diff = Math.abs(a - b);
  return diff <= tol.absTol || diff <= tol.relTol * Math.max(Math.abs(a), Math.abs(b));
}
function complexClose(a: Complex, b: Complex, tol: Tolerance): boolean {
  // Compare the parts on the scale of the larger modulus so 1e-17i round-off does not matter.
  const scale = Math.max(Math.hypot(a.re, a.im), Math.hypot(b.re, b.im));
  const t: Tolerance = { relTol: tol.relTol, absTol: Math.max(tol.absTol, tol.relTol * scale) };
  return closeEnough(a.re, b.re, t) && closeEnough(a.im, b.im, t);
}
const finite = (a: Complex): boolean => Number.isFinite(a.re) && Number.isFinite(a.im);

/** Deterministic xorshift PRNG: the sample points must be the same on every run and machine. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

export interface PointSet {
  exact: Map<string, Rational>[];
  numeric: Map<string, Complex>[];
}

/** Sample points for the given variables: positive rationals p/q (exact) and positive reals in [0.4, 2.9]. */
export function samplePoints(vars: string[], count: number, seed: number): PointSet {
  const rnd = prng(seed);
  const exact: Map<string, Rational>[] = [];
  const numeric: Map<string, Complex>[] = [];
  for (let k = 0; k < count; k++) {
    const e = new Map<string, Rational>();
    const f = new Map<string, Complex>();
    for (const v of vars) {
      const p = 2 + Math.floor(rnd() * 60);
      const q = 1 + Math.floor(rnd() * 7);
      e.set(v, Q.rat(BigInt(p), BigInt(q))!);
      f.set(v, C(0.4 + rnd() * 2.5));
    }
    exact.push(e);
    numeric.push(f);
  }
  return { exact, numeric };
}

export interface ExprVerdict {
  equal: boolean;
  how: 'exact' | 'numeric' | 'undecided';
}

/**
 * Decides a = b. Exact when both sides are rational at every sample point and neither contains a decimal
 * literal (decimals may be rounded, so they get the tolerance); numeric otherwise.
 */
export function exprEquivalent(a: Node, b: Node, tol: Tolerance, budget: Budget, seed = 20240607): ExprVerdict {
  // Opaque literals (base-n numbers) are sampled like variables: the same literal gets the same value.
  const vars = [...new Set([...freeSymbols(a, new Set(), true), ...freeSymbols(b, new Set(), true)])].sort();
  const approx = hasApprox(a) || hasApprox(b);
  const points = samplePoints(vars, vars.length === 0 ? 1 : 6, seed);
  let exactAll = !approx;
  if (exactAll) {
    for (const env of points.exact) {
      const x = tryExact(a, env, budget);
      const y = tryExact(b, env, budget);
      if (x === null || y === null) {
        exactAll = false;
        break;
      }
      if (!Q.equals(x, y)) return { equal: false, how: 'exact' };
    }
    if (exactAll) return { equal: true, how: 'exact' };
  }
  let used = 0;
  for (const env of points.numeric) {
    const x = numEval(a, env, budget);
    const y = numEval(b, env, budget);
    if (!finite(x) || !finite(y)) {
      // ∞ = ∞ (interval ends) counts; any other non-finite point is skipped.
      // Only a written ∞ counts: an overflow (2^(2^99)) is not infinity and decides nothing.
      if (vars.length === 0 && x.re === y.re && x.im === 0 && y.im === 0 && Math.abs(x.re) === Infinity && hasInf(a) && hasInf(b)) {
        return { equal: true, how: 'numeric' };
      }
      if (vars.length === 0) return { equal: false, how: 'undecided' };
      continue;
    }
    if (!complexClose(x, y, tol)) return { equal: false, how: 'numeric' };
    used++;
  }
  if (used === 0 || (vars.length > 0 && used < 3)) return { equal: false, how: 'undecided' };
  return { equal: true, how: 'numeric' };
}

/**
 * For relations: is f = c·g for one constant c at all sample points? Returns c's sign (+1/−1) or 0 when not
 * proportional. Equations are equivalent for any c ≠ 0; inequalities need c > 0 (or c < 0 with the
 * direction flipped), which the caller checks.
 */
export function proportionalSign(f: Node, g: Node, tol: Tolerance, budget: Budget, seed = 20240607): number {
  const vars = [...new Set([...freeSymbols(f), ...freeSymbols(g)])].sort();
  const points = samplePoints(vars, 7, seed);
  let ratio: Complex | null = null;
  let used = 0;
  for (const env of points.numeric) {
    const x = numEval(f, env, budget);
    const y = numEval(g, env, budget);
    if (!finite(x) || !finite(y)) continue;
    const yZero = Math.hypot(y.re, y.im) <= 1e-12;
    const xZero = Math.hypot(x.re, x.im) <= 1e-12;
    if (yZero || xZero) {
      if (yZero !== xZero) return 0;
      continue;
    }
    const r = cdiv(x, y);
    if (ratio === null) ratio = r;
    else if (!complexClose(r, ratio, { relTol: Math.max(tol.relTol, 1e-9), absTol: 1e-12 })) return 0;
    used++;
  }
  if (ratio === null || used < Math.min(3, points.numeric.length) || !isReal(ratio)) return 0;
  return ratio.re > 0 ? 1 : -1;
}
