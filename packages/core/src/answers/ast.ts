/**
 * The expression tree produced by parse.ts and the small structural helpers the comparison needs.
 * Kept apart from the parser so that each file stays readable.
 */
import type { Rational } from './rational.js';

export type Node =
  | { t: 'num'; v: Rational; approx: boolean } // approx: written with a decimal point, so maybe rounded
  | { t: 'sym'; name: string }
  | { t: 'const'; name: 'pi' | 'e' | 'i' | 'inf' }
  | { t: 'add'; terms: Node[] }
  | { t: 'mul'; factors: Node[] }
  | { t: 'div'; num: Node; den: Node }
  | { t: 'neg'; a: Node }
  | { t: 'pow'; base: Node; exp: Node }
  | { t: 'root'; a: Node; k: Node }
  | { t: 'fn'; name: string; a: Node }
  | { t: 'fact'; a: Node }
  | { t: 'abs'; a: Node }
  | { t: 'pm'; a: Node; b: Node }; // a ± b

/** Thrown for input the parser (or a helper such as expandPm) refuses; callers fall back to strings. */
export class ParseError extends Error {
  constructor(msg: string) {
    super(msg);
    this.name = 'ParseError';
  }
}

/** Free variables of an expression (constants π, e, i excluded). */
export function freeSymbols(n: Node, out: Set<string> = new Set(), withOpaque = false): Set<string> {
  switch (n.t) {
    case 'sym':
      // '#…' names are opaque literals (204_5); they are values, not variables, unless asked for.
      if (withOpaque || !n.name.startsWith('#')) out.add(n.name);
      break;
    case 'num':
    case 'const':
      break;
    case 'add':
      n.terms.forEach((x) => freeSymbols(x, out, withOpaque));
      break;
    case 'mul':
      n.factors.forEach((x) => freeSymbols(x, out, withOpaque));
      break;
    case 'div':
      freeSymbols(n.num, out, withOpaque);
      freeSymbols(n.den, out, withOpaque);
      break;
    case 'pow':
      freeSymbols(n.base, out, withOpaque);
      freeSymbols(n.exp, out, withOpaque);
      break;
    case 'root':
      freeSymbols(n.a, out, withOpaque);
      freeSymbols(n.k, out, withOpaque);
      break;
    case 'pm':
      freeSymbols(n.a, out, withOpaque);
      freeSymbols(n.b, out, withOpaque);
      break;
    default:
      freeSymbols(n.a, out, withOpaque);
  }
  return out;
}

/** True when the tree contains a decimal literal (then numeric tolerance applies instead of exact equality). */
export function hasApprox(n: Node): boolean {
  switch (n.t) {
    case 'num':
      return n.approx;
    case 'sym':
    case 'const':
      return false;
    case 'add':
      return n.terms.some(hasApprox);
    case 'mul':
      return n.factors.some(hasApprox);
    case 'div':
      return hasApprox(n.num) || hasApprox(n.den);
    case 'pow':
      return hasApprox(n.base) || hasApprox(n.exp);
    case 'root':
      return hasApprox(n.a) || hasApprox(n.k);
    case 'pm':
      return hasApprox(n.a) || hasApprox(n.b);
    default:
      return hasApprox(n.a);
  }
}

/** Expands every ± into its two signs: 1 ± √19 → [1 + √19, 1 − √19]. At most 8 results. */
export function expandPm(n: Node): Node[] {
  if (n.t === 'pm') {
    const as = expandPm(n.a);
    const bs = expandPm(n.b);
    const out: Node[] = [];
    for (const a of as) for (const b of bs) out.push({ t: 'add', terms: [a, b] }, { t: 'add', terms: [a, { t: 'neg', a: b }] });
    if (out.length > 8) throw new ParseError('too many ±');
    return out;
  }
  if (!containsPm(n)) return [n];
  // ± below the top (e.g. inside a fraction): expand the children and rebuild.
  const rebuild = (children: Node[], make: (c: Node[]) => Node): Node[] => {
    let combos: Node[][] = [[]];
    for (const c of children) {
      const opts = expandPm(c);
      combos = combos.flatMap((prefix) => opts.map((o) => [...prefix, o]));
      if (combos.length > 8) throw new ParseError('too many ±');
    }
    return combos.map(make);
  };
  switch (n.t) {
    case 'add':
      return rebuild(n.terms, (c) => ({ t: 'add', terms: c }));
    case 'mul':
      return rebuild(n.factors, (c) => ({ t: 'mul', factors: c }));
    case 'div':
      return rebuild([n.num, n.den], ([a, b]) => ({ t: 'div', num: a!, den: b! }));
    case 'pow':
      return rebuild([n.base, n.exp], ([a, b]) => ({ t: 'pow', base: a!, exp: b! }));
    case 'root':
      return rebuild([n.a, n.k], ([a, b]) => ({ t: 'root', a: a!, k: b! }));
    case 'neg':
    case 'fn':
    case 'fact':
    case 'abs':
      return rebuild([n.a], ([a]) => ({ ...n, a: a! }) as Node);
    default:
      return [n];
  }
}

function containsPm(n: Node): boolean {
  switch (n.t) {
    case 'pm':
      return true;
    case 'num':
    case 'sym':
    case 'const':
      return false;
    case 'add':
      return n.terms.some(containsPm);
    case 'mul':
      return n.factors.some(containsPm);
    case 'div':
      return containsPm(n.num) || containsPm(n.den);
    case 'pow':
      return containsPm(n.base) || containsPm(n.exp);
    case 'root':
      return containsPm(n.a) || containsPm(n.k);
    default:
      return containsPm(n.a);
  }
}
