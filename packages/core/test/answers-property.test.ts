// Property tests: generated numbers and expressions, written in several equivalent ways (and one
// non-equivalent way), must be graded accordingly; arbitrary input never throws and stays within the time cap.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { answersEqual, compareAnswers, cpuMillis } from '../src/answers/index.js';

const RUNS = { numRuns: 200, seed: 4242 };

/** Writes a non-negative integer with thousands commas: 1234567 → 1,234,567. */
const withCommas = (n: bigint) => n.toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');

describe('numbers written differently are equal', () => {
  it('integers: plain, .0, boxed, ####, thousands commas, \\$, \\text unit', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }), (n) => {
        const s = n.toString();
        const abs = n < 0n ? -n : n;
        const commas = (n < 0n ? '-' : '') + withCommas(abs);
        for (const v of [`${s}.0`, `\\boxed{${s}}`, `#### ${commas}`, commas, `\\$${s}`, `${s}\\text{ apples}`, `The answer is ${s}.`]) {
          expect(answersEqual(v, s), v).toBe(true);
        }
        expect(answersEqual(`\\boxed{${n + 1n}}`, s)).toBe(false);
      }),
      RUNS,
    );
  });

  it('fractions: \\frac, \\dfrac, a/b, scaled, decimal when it terminates', () => {
    fc.assert(
      fc.property(fc.integer({ min: -999, max: 999 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 2, max: 9 }), (p, q, k) => {
        const gold = `\\frac{${p}}{${q}}`;
        expect(answersEqual(`\\dfrac{${p}}{${q}}`, gold)).toBe(true);
        expect(answersEqual(`${p}/${q}`, gold)).toBe(true);
        expect(answersEqual(`\\frac{${p * k}}{${q * k}}`, gold)).toBe(true);
        // q = 2^a 5^b terminates: the exact decimal is equal.
        if (/^(?:1|2|4|5|8|10|16|20|25|32|40|50|64)$/.test(String(q))) {
          expect(answersEqual((p / q).toString(), gold), `${p / q} vs ${gold}`).toBe(true);
        }
        expect(answersEqual(`\\frac{${p + 1}}{${q}}`, gold)).toBe(false);
      }),
      RUNS,
    );
  });

  it('decimals within relative 1e-4 are equal, beyond 1e-3 they are not', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1e6, noNaN: true }), (x) => {
        const a = x.toPrecision(12);
        expect(answersEqual(a, (x * (1 + 2e-5)).toPrecision(12))).toBe(true);
        expect(answersEqual(a, (x * (1 + 1e-3)).toPrecision(12))).toBe(false);
      }),
      RUNS,
    );
  });
});

// Random expressions over x, y with small integer coefficients, printed as LaTeX.
type E = { tex: string; plain: string };
const leaf = fc.oneof(
  fc.integer({ min: 1, max: 9 }).map((n) => ({ tex: String(n), plain: String(n) })),
  fc.constantFrom('x', 'y').map((v) => ({ tex: v, plain: v })),
);
const expr: fc.Arbitrary<E> = fc.letrec<{ e: E }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => ({ tex: `(${a.tex})+(${b.tex})`, plain: `(${a.plain}) + (${b.plain})` })),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => ({ tex: `(${a.tex})\\cdot(${b.tex})`, plain: `(${a.plain})*(${b.plain})` })),
    fc.tuple(tie('e'), tie('e')).map(([a, b]) => ({ tex: `\\frac{${a.tex}}{${b.tex}}`, plain: `(${a.plain})/(${b.plain})` })),
    tie('e').map((a) => ({ tex: `(${a.tex})^{2}`, plain: `(${a.plain})^2` })),
  ),
})).e;

describe('expressions', () => {
  it('x equals x, in LaTeX and in plain notation, and inside \\boxed', () => {
    fc.assert(
      fc.property(expr, (e) => {
        expect(answersEqual(e.tex, e.tex)).toBe(true);
        expect(answersEqual(`\\boxed{${e.tex}}`, e.plain)).toBe(true);
      }),
      RUNS,
    );
  });

  it('commutativity and distributivity are recognised; adding 1 is not', () => {
    fc.assert(
      fc.property(expr, expr, expr, (a, b, c) => {
        expect(answersEqual(`(${a.tex})+(${b.tex})`, `(${b.tex})+(${a.tex})`)).toBe(true);
        expect(answersEqual(`(${a.tex})(${b.tex}+${c.tex})`, `(${a.tex})(${b.tex})+(${a.tex})(${c.tex})`)).toBe(true);
        const v = compareAnswers(`(${a.tex})+(${b.tex})`, `(${a.tex})+(${b.tex})+1`);
        expect(v.equal).toBe(false);
      }),
      RUNS,
    );
  });

  it('equality is symmetric on generated pairs', () => {
    fc.assert(
      fc.property(expr, expr, (a, b) => {
        expect(answersEqual(a.tex, b.plain)).toBe(answersEqual(b.plain, a.tex));
      }),
      RUNS,
    );
  });
});

describe('structures', () => {
  it('sets are order-free, tuples are not', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: -50, max: 50 }), { minLength: 2, maxLength: 6 }), (xs) => {
        const rev = [...xs].reverse();
        expect(answersEqual(`\\{${xs.join(',')}\\}`, `\\{${rev.join(', ')}\\}`)).toBe(true);
        expect(answersEqual(`(${xs.join(',')})`, `(${rev.join(',')})`)).toBe(false);
        expect(answersEqual(`(${xs.join(',')})`, `\\left(${xs.join(', ')}\\right)`)).toBe(true);
      }),
      RUNS,
    );
  });
});

describe('robustness', () => {
  const latexish = fc.string({ unit: fc.constantFrom(...'0123456789+-*/^_{}()[]|\\ $,.=<>xyzabc!%&'.split(''), 'frac', 'sqrt', 'boxed', 'left', 'right', 'pm', 'infty', 'text', 'begin{pmatrix}', 'end{pmatrix}'), maxLength: 120 });
  it('never throws, always answers within 100 ms, and x equals x when an answer exists', () => {
    fc.assert(
      fc.property(latexish, latexish, (a, b) => {
        const t0 = cpuMillis();
        const v = compareAnswers(a, b);
        const w = compareAnswers(a, a);
        expect(cpuMillis() - t0).toBeLessThan(200); // two comparisons
        expect(typeof v.equal).toBe('boolean');
        expect(v.reason).not.toBe('internal-error');
        expect(w.reason).not.toBe('internal-error');
        if (w.pred !== null) expect(w.equal).toBe(true);
      }),
      { numRuns: 500, seed: 7 },
    );
  });
});
