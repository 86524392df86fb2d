/**
 * Reads a normalised answer string into a structured value: a scalar expression, a list of answers, a tuple,
 * an interval or union of intervals, a set, a matrix, a relation (equation/inequality), or plain text when
 * nothing else fits. The comparison (equivalence.ts) works on these values.
 */
import { Budget, BudgetExceeded } from './budget.js';
import { expandPm, freeSymbols, ParseError, parseExpression, type Node } from './parse.js';

export type RelOp = '=' | '<' | '>' | '≤' | '≥' | '≠';

export type Value =
  | { kind: 'expr'; node: Node; src: string; eq?: { op: '='; lhs: Node; rhs: Node } } // eq: read from "label = expr"
  | { kind: 'text'; text: string }
  | { kind: 'list'; items: Value[]; decimalAlt?: Value } // comma list: order-free
  | { kind: 'tuple'; items: Value[] } // (a, b, …): ordered; a 2-tuple in () may also be an open interval
  | { kind: 'interval'; lo: Value; hi: Value; loClosed: boolean; hiClosed: boolean }
  | { kind: 'union'; parts: Value[] }
  | { kind: 'set'; items: Value[] } // \{…\}
  | { kind: 'matrix'; rows: Value[][] }
  | { kind: 'relation'; op: RelOp; lhs: Node; rhs: Node; src: string };

const OPEN = '([{⟦';
const CLOSE = ')]}⟧';

/** Splits at top-level occurrences of any separator char (depth counts all bracket kinds, so [0,1) works). */
export function splitTop(s: string, seps: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let absOpen = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      // skip a command name so that \{ style escapes do not count
      const m = /^\\[A-Za-z]+/.exec(s.slice(i, i + 30));
      if (m) i += m[0].length - 1;
      else i++;
      continue;
    }
    if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c)) depth--;
    else if (c === '|' && depth === 0) absOpen = !absOpen;
    else if (depth === 0 && !absOpen && seps.includes(c)) {
      out.push(s.slice(start, i));
      start = i + 1;
    }
  }
  out.push(s.slice(start));
  return out.map((x) => x.trim());
}

/** Splits at top-level `\cup`. */
function splitCup(s: string): string[] {
  const marked = s.replace(/\\cup(?![A-Za-z])|∪/g, '\u0001');
  return splitTop(marked, '\u0001');
}

/** Index of the bracket closing the one at 0 (any kind), or -1. */
function closingOf(s: string): number {
  let depth = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\') {
      i++;
      continue;
    }
    if (OPEN.includes(c)) depth++;
    else if (CLOSE.includes(c) && --depth === 0) return i;
  }
  return -1;
}

/**
 * A left-hand side that names the answer rather than computing it: x, a_3, f(x), |AB|, (p,q), A:B,
 * \frac{NO}{BO}. Such a side is dropped ("x = 5" answers 5). A side with digits or +/− outside subscripts
 * (2x + z, a^2 + b) is a real equation and is kept.
 */
export function isLabel(lhs: string): boolean {
  const t = lhs
    .replace(/_\{[^{}]*\}|_\w/g, '')
    .replace(/\\(?:frac|mathrm|overline|vec|hat|angle|triangle)(?![A-Za-z])/g, '')
    .replace(/\\[A-Za-z]+/g, 'v')
    .replace(/\s+/g, '');
  if (t === '') return false;
  if (/[\d+\-−^]/.test(t.replace(/\([^()]*\)/g, (m) => (/[+\-−]/.test(m) ? m : '()')))) return false;
  return /[A-Za-z]/.test(t);
}

const REL_RE = /(=|<|>|≤|≥|≠|≈)/;

function exprValue(s: string, budget: Budget): Value {
  const node = parseExpression(s, budget);
  const expanded = expandPm(node);
  if (expanded.length === 1) return { kind: 'expr', node: expanded[0]!, src: s };
  return { kind: 'list', items: expanded.map((n) => ({ kind: 'expr', node: n, src: s }) as Value) };
}

const isNumericExpr = (s: string, budget: Budget): boolean => {
  try {
    return freeSymbols(parseExpression(s, budget)).size === 0;
  } catch (e) {
    if (e instanceof BudgetExceeded) throw e;
    return false;
  }
};

function relationValue(s: string, budget: Budget): Value | null {
  const parts = s.split(REL_RE);
  if (parts.length < 3) return null;
  let sides = parts.filter((_, i) => i % 2 === 0).map((x) => x.trim());
  let ops = parts.filter((_, i) => i % 2 === 1);
  // "x = 1/3 ≈ 0.33": what follows ≈ is a remark once an exact value was given.
  const firstApprox = ops.indexOf('≈');
  if (firstApprox > 0) {
    sides = sides.slice(0, firstApprox + 1);
    ops = ops.slice(0, firstApprox);
  }
  if (ops.length === 1 && ops[0] === '≈') {
    // "x ≈ 11" answers 11, but "√3/3 ≈ 0.577" answers √3/3: the exact form comes first.
    return parseItem(isLabel(sides[0]!) ? sides[1]! : sides[0]!, budget);
  }
  ops = ops.map((o) => (o === '≈' ? '=' : o));
  if (sides.some((x) => x === '')) return null;
  if (ops.every((o) => o === '=')) {
    // A chain a = b = c answers its last side (Math-Verify policy; the steps before are working).
    if (ops.length >= 2) return parseItem(sides[sides.length - 1]!, budget);
    const [lhs, rhs] = sides as [string, string];
    if (isLabel(lhs)) {
      const v = parseItem(rhs, budget);
      if (v.kind === 'expr') {
        // Keep the equation too: "y = 2x + 3" must still meet "2x - y + 3 = 0".
        try {
          return { ...v, eq: { op: '=', lhs: parseExpression(lhs, budget), rhs: v.node } };
        } catch (e) {
          if (e instanceof BudgetExceeded) throw e;
        }
      }
      return v;
    }
    if (isNumericExpr(lhs, budget) && isNumericExpr(rhs, budget)) return parseItem(rhs, budget);
    return { kind: 'relation', op: '=', lhs: parseExpression(lhs, budget), rhs: parseExpression(rhs, budget), src: s };
  }
  if (ops.length === 2) {
    // a < x < b (or b > x > a) with a named middle: the interval it describes.
    const [a, m, b] = sides as [string, string, string];
    const [o1, o2] = ops as [string, string];
    const up = (o: string) => o === '<' || o === '≤';
    const down = (o: string) => o === '>' || o === '≥';
    const absLabel = /^\|(.+)\|$/.exec(m);
    if (absLabel && isLabel(absLabel[1]!) && ((up(o1) && up(o2)) || (down(o1) && down(o2)))) {
      // a ≤ |x| ≤ b with 0 ≤ a: x ∈ [−b, −a] ∪ [a, b].
      const [lo, hi, loOp, hiOp] = up(o1) ? [a, b, o1, o2] : [b, a, o2, o1];
      const loC = loOp === '≤' || loOp === '≥';
      const hiC = hiOp === '≤' || hiOp === '≥';
      const loN = parseExpression(lo, budget);
      const hiN = parseExpression(hi, budget);
      if (freeSymbols(loN).size > 0 || freeSymbols(hiN).size > 0) return null;
      const ex = (node: Node): Value => ({ kind: 'expr', node, src: '' });
      return {
        kind: 'union',
        parts: [
          { kind: 'interval', lo: ex({ t: 'neg', a: hiN }), hi: ex({ t: 'neg', a: loN }), loClosed: hiC, hiClosed: loC },
          { kind: 'interval', lo: ex(loN), hi: ex(hiN), loClosed: loC, hiClosed: hiC },
        ],
      };
    }
    if (isLabel(m) && ((up(o1) && up(o2)) || (down(o1) && down(o2)))) {
      const [lo, hi, loOp, hiOp] = up(o1) ? [a, b, o1, o2] : [b, a, o2, o1];
      return {
        kind: 'interval',
        lo: parseItem(lo, budget),
        hi: parseItem(hi, budget),
        loClosed: loOp === '≤' || loOp === '≥',
        hiClosed: hiOp === '≤' || hiOp === '≥',
      };
    }
    return null;
  }
  if (ops.length === 1) {
    return { kind: 'relation', op: ops[0] as RelOp, lhs: parseExpression(sides[0]!, budget), rhs: parseExpression(sides[1]!, budget), src: s };
  }
  return null;
}

function matrixValue(s: string, budget: Budget): Value | null {
  const m = /^\(?\s*\\begin\{(pmatrix|bmatrix|vmatrix|Bmatrix|matrix|smallmatrix|array)\}(?:\{[^{}]*\})?(.*)\\end\{\1\}\s*\)?$/s.exec(s);
  if (!m) return null;
  const body = m[2]!;
  if (/\\(?:begin|end)\{/.test(body)) return null; // "A + B": two matrices, see matrixExprValue
  const rows = body
    .split(/\\\\/)
    .map((r) => r.trim())
    .filter((r) => r !== '' && !/^\\hline$/.test(r));
  const cells = rows.map((r) => r.split('&').map((c) => parseItem(c.trim(), budget)));
  if (cells.length === 0) return null;
  return { kind: 'matrix', rows: cells };
}

const MATRIX_ENV_RE = /\\begin\{(pmatrix|bmatrix|vmatrix|Bmatrix|matrix|smallmatrix|array)\}(?:\{[^{}]*\})?([\s\S]*?)\\end\{\1\}/g;

type Grid = Node[][];

/**
 * Sums and products of matrix literals with scalar factors ("A + B", "A B", "2A − B"), evaluated entrywise
 * into one matrix of expression trees. Returns null for anything else (a lone matrix is handled by
 * matrixValue; mismatched dimensions or non-scalar entries are not an answer we can read).
 */
function matrixExprValue(s: string, budget: Budget): Value | null {
  const mats: Grid[] = [];
  let bad = false;
  const marked = s.replace(MATRIX_ENV_RE, (_m, _env: string, body: string) => {
    const rows = body
      .split(/\\\\/)
      .map((r) => r.trim())
      .filter((r) => r !== '');
    const grid = rows.map((r) => r.split('&').map((c) => parseItem(c.trim(), budget)));
    if (grid.some((r) => r.some((v) => v.kind !== 'expr'))) bad = true;
    mats.push(grid.map((r) => r.map((v) => (v as Extract<Value, { kind: 'expr' }>).node)));
    return ` \u0003${mats.length - 1}\u0003 `;
  });
  if (bad || mats.length < 2) return null;
  const outside = marked.replace(/\u0003\d+\u0003/g, '');
  if (/[=<>≤≥≠,;]/.test(outside)) return null;
  // Terms at top level, each with its sign.
  const terms: { sign: 1 | -1; text: string }[] = [];
  let depth = 0;
  let start = 0;
  let sign: 1 | -1 = 1;
  for (let i = 0; i <= marked.length; i++) {
    const c = marked[i];
    if (c === '(' || c === '{') depth++;
    else if (c === ')' || c === '}') depth--;
    if (i === marked.length || (depth === 0 && (c === '+' || c === '-') && marked.slice(start, i).trim() !== '')) {
      terms.push({ sign, text: marked.slice(start, i) });
      sign = c === '-' ? -1 : 1;
      start = i + 1;
    } else if (depth === 0 && (c === '+' || c === '-') && marked.slice(start, i).trim() === '') {
      if (c === '-') sign = sign === 1 ? -1 : 1;
      start = i + 1;
    }
  }
  let total: Grid | null = null;
  for (const term of terms) {
    let scalar: Node = { t: 'num', v: { n: BigInt(term.sign), d: 1n }, approx: false };
    let acc: Grid | null = null;
    for (const part of term.text.split(/(\u0003\d+\u0003)/)) {
      const p = part.replace(/\*/g, ' ').trim();
      if (p === '') continue;
      const m = /^\u0003(\d+)\u0003$/.exec(p);
      if (!m) {
        scalar = { t: 'mul', factors: [scalar, parseExpression(p, budget)] };
        continue;
      }
      const g = mats[Number(m[1])]!;
      if (acc === null) acc = g;
      else {
        if (acc[0]!.length !== g.length) return null;
        const prod: Grid = acc.map((row) =>
          g[0]!.map((_, j) => ({ t: 'add', terms: row.map((a, k) => ({ t: 'mul', factors: [a, g[k]![j]!] }) as Node) }) as Node),
        );
        acc = prod;
      }
      budget.tick(acc.length * acc[0]!.length);
    }
    if (acc === null) return null;
    const scaled = acc.map((row) => row.map((x) => ({ t: 'mul', factors: [scalar, x] }) as Node));
    if (total === null) total = scaled;
    else {
      if (total.length !== scaled.length || total[0]!.length !== scaled[0]!.length) return null;
      const t0: Grid = total;
      total = t0.map((row, i) => row.map((x, j) => ({ t: 'add', terms: [x, scaled[i]![j]!] }) as Node));
    }
  }
  if (total === null) return null;
  return { kind: 'matrix', rows: total.map((row) => row.map((node) => ({ kind: 'expr', node, src: '' }) as Value)) };
}

/** One answer item (no top-level comma list). */
export function parseItem(raw: string, budget: Budget): Value {
  const s = raw.trim();
  // Each level of parseItem scans its string: charge that, so nested brackets cannot cost O(n²) unnoticed.
  budget.tick(4 * s.length + 1); // about four linear scans per level
  try {
    if (s === '') return { kind: 'text', text: '' };
    const mat = matrixValue(s, budget) ?? matrixExprValue(s, budget);
    if (mat) return mat;
    const cups = splitCup(s);
    if (cups.length > 1) return { kind: 'union', parts: cups.map((p) => parseItem(p, budget)) };
    const rel = splitTop(s.replace(REL_RE, '\u0002$1'), '\u0002').length > 1 ? relationValue(s, budget) : null;
    if (rel) return rel;
    const first = s[0]!;
    if (OPEN.includes(first) && closingOf(s) === s.length - 1) {
      const inner = s.slice(1, -1);
      const last = s[s.length - 1]!;
      const items = splitTop(inner, ',;');
      if (first === '⟦') return { kind: 'set', items: items.filter((x) => x !== '').map((x) => parseItem(x, budget)) };
      if (first === '{' && last === '}') return parseAnswer(inner, budget); // TeX grouping: {1,3} is 1,3
      if (items.length === 1) return parseItem(inner, budget);
      const vals = items.map((x) => parseItem(x, budget));
      if (items.length === 2 && (first === '[' || last === ']')) {
        return { kind: 'interval', lo: vals[0]!, hi: vals[1]!, loClosed: first === '[', hiClosed: last === ']' };
      }
      return { kind: 'tuple', items: vals };
    }
    return exprValue(s, budget);
  } catch (e) {
    if (e instanceof BudgetExceeded) throw e;
    if (e instanceof ParseError) return { kind: 'text', text: s.replace(/\s+/g, '') };
    throw e;
  }
}

/** A whole (normalised) answer: possibly a list of items separated by commas or semicolons. */
export function parseAnswer(s: string, budget: Budget): Value {
  const t = s.trim();
  budget.tick(t.length + 1);
  // "1,22" / "0,111": a decimal comma reading is kept as an alternative to the list {1, 22}.
  let decimalAlt: Value | undefined;
  if (/^[+-]?\d+,\d+$/.test(t) && (!/,\d{3}$/.test(t) || /^[+-]?0,/.test(t))) {
    decimalAlt = parseItem(t.replace(',', '.'), budget);
  }
  const groups = splitTop(t, ';').filter((g) => g !== '');
  let items: Value[];
  if (groups.length > 1) {
    // "p=5,q=2; p=7,q=2": each ;-group with several items is one solution tuple.
    items = groups.map((g) => {
      const parts = splitTop(g, ',').filter((x) => x !== '');
      return parts.length === 1 ? parseItem(parts[0]!, budget) : { kind: 'tuple', items: parts.map((p) => parseItem(p, budget)) };
    });
  } else {
    items = splitTop(t, ',').filter((x) => x !== '').map((x) => parseItem(x, budget));
  }
  // Flatten nested lists (from ±) into one list.
  const flat: Value[] = [];
  for (const it of items) {
    if (it.kind === 'list' && !it.decimalAlt) flat.push(...it.items);
    else flat.push(it);
  }
  if (flat.length === 1 && !decimalAlt) return flat[0]!;
  if (flat.length === 0) return { kind: 'text', text: '' };
  return decimalAlt ? { kind: 'list', items: flat, decimalAlt } : { kind: 'list', items: flat };
}
