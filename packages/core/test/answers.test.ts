// Hand-written cases for each extraction and normalisation rule and each kind of equivalence.
import { describe, expect, it } from 'vitest';

import { answersEqual, Budget, compareAnswers, cpuMillis, extractAnswer, findBoxed, normalizeAnswer, parseExpression, ParseError, statedAnswer } from '../src/answers/index.js';

const eq = (p: string, g: string, opts = {}) => answersEqual(p, g, opts);

describe('extractAnswer', () => {
  it('takes the last \\boxed{} with nested braces', () => {
    expect(extractAnswer('first \\boxed{1} then \\boxed{\\frac{1}{\\sqrt{2}}} done')).toBe('\\frac{1}{\\sqrt{2}}');
  });
  it('reads \\fbox and \\boxed without braces', () => {
    expect(extractAnswer('so \\fbox{42}.')).toBe('42');
    expect(extractAnswer('so $\\boxed 7$')).toBe('7');
  });
  it('keeps a % written right after the box', () => {
    expect(findBoxed('loss of \\boxed{28}\\%')[0]!.content).toBe('28%');
  });
  it('joins boxes separated only by a few words, not by a sentence', () => {
    expect(extractAnswer('\\boxed{1} and \\boxed{2}')).toBe('1, 2');
    expect(extractAnswer('\\boxed{1} no no no no no \\boxed{2}')).toBe('2');
  });
  it('prefers "final answer is" up to "I hope"', () => {
    expect(extractAnswer('we get \\boxed{255}. Final Answer: The final answer is $10,455$. I hope it is correct.')).toBe('10,455');
  });
  it('reads GSM8K "#### N"', () => {
    expect(extractAnswer('She makes 9 * 2 = $<<9*2=18>>18.\n#### 18')).toBe('18');
  });
  it('reads "The answer is"', () => {
    expect(extractAnswer('So the answer is $\\frac{3}{4}$.')).toBe('\\frac{3}{4}');
  });
  it('falls back to the last number in prose, ignoring numbers glued to names', () => {
    expect(extractAnswer('the number is not 10 which is 1,000.99€')).toBe('1,000.99');
    expect(extractAnswer('P(A) = 2/3 Therefore, the probability is 2/3.')).toBe('2/3');
    expect(extractAnswer('There were 3 of them in Room 2B total')).toBe('3');
  });
  it('takes the last math span when the prose has no marker', () => {
    expect(extractAnswer('Therefore $x \\geq 5$ is the solution.')).toBe('x \\geq 5');
  });
  it('returns a short answer unchanged and null when nothing is there', () => {
    expect(extractAnswer('\\text{Evelyn}')).toBe('\\text{Evelyn}');
    expect(extractAnswer('I do not know how to solve this problem at all')).toBeNull();
    expect(extractAnswer('   ')).toBeNull();
  });
});

describe('statedAnswer (no last-number fallback)', () => {
  it('finds only answers a text states with a marker', () => {
    // The grader reads the last number of an unmarked text; statedAnswer must not.
    expect(extractAnswer('Step 1: 18 - 5 = 13')).toBe('13');
    expect(statedAnswer('Step 1: 18 - 5 = 13')).toBeNull();
    expect(statedAnswer('We have 3 apples and 4 pears.')).toBeNull();
    expect(statedAnswer('The answer is 13')).toBe('13');
    expect(statedAnswer('so #### 1,234')).toBe('1,234');
    expect(statedAnswer('hence $\\boxed{\\frac12}$')).toBe('\\frac12');
    expect(statedAnswer('The final answer is $7$. I hope it is correct.')).toBe('7');
    expect(statedAnswer('Answer: -2')).toBe('-2');
  });
  it('agrees with extractAnswer whenever a marker is present', () => {
    for (const t of ['The answer is 5', 'x #### 12', '\\boxed{3} and \\boxed{4}', 'Final Answer: 2/3']) expect(statedAnswer(t)).toBe(extractAnswer(t));
  });
});

describe('normalizeAnswer', () => {
  const n = (s: string) => normalizeAnswer(s).replace(/\s+/g, '');
  it('frac variants', () => {
    expect(n('\\dfrac{1}{2}')).toBe('\\frac{1}{2}');
    expect(n('\\tfrac{1}{2}')).toBe('\\frac{1}{2}');
    expect(n('\\cfrac{1}{2}')).toBe('\\frac{1}{2}');
  });
  it('\\left / \\right, \\! and \\, spacing', () => {
    expect(n('\\left( 3, \\frac{\\pi}{2} \\right)')).toBe('(3,\\frac{\\pi}{2})');
    expect(n('1\\!000\\,000')).toBe('1000000');
  });
  it('\\text units, degrees, percent, dollars', () => {
    expect(n('10\\text{ cm}^2')).toBe('10');
    expect(n('90^\\circ')).toBe('90');
    expect(n('90^{\\circ}')).toBe('90');
    expect(n('28\\%')).toBe('28%'); // kept: the comparison reads it as 28 and as 0.28
    expect(n('28 \\%')).toBe('28%');
    expect(n('\\$18.90')).toBe('18.90');
    expect(n('64 square feet')).toBe('64');
  });
  it('thousands separators', () => {
    expect(n('7,425,000')).toBe('7425000');
    expect(n('11,\\! 111,\\! 100')).toBe('11111100');
    expect(n('14{,}916')).toBe('14916');
    expect(n('1 000')).toBe('1000');
    expect(n('1,5')).toBe('1,5'); // not a thousands group: kept (list or decimal comma decided later)
  });
  it('relations, infinity, set braces, x \\in, multiple-choice letters, trailing dot', () => {
    expect(n('x \\leq 2')).toBe('x≤2');
    expect(n('(1, \\infty)')).toBe('(1,∞)');
    expect(n('x \\in [-2,7]')).toBe('[-2,7]');
    expect(n('\\text{(C)}')).toBe('C');
    expect(n('7.78.')).toBe('7.78');
    expect(n('.5')).toBe('0.5');
  });
  it('undoes double-escaped commands', () => {
    expect(n('\\\\frac{1}{2}')).toBe('\\frac{1}{2}');
  });
});

describe('answersEqual: numbers', () => {
  it('integers, decimals, fractions, mixed numbers', () => {
    expect(eq('5', '5.0')).toBe(true);
    expect(eq('\\frac{1}{2}', '0.5')).toBe(true);
    expect(eq('918\\frac{1}{2}', '918.5')).toBe(true);
    expect(eq('\\frac12', '1/2')).toBe(true);
    expect(eq('-\\frac{10}{9}', '-10/9')).toBe(true);
  });
  it('powers and scientific notation', () => {
    expect(eq('2^{10}', '1024')).toBe(true);
    expect(eq('1.5e-3', '0.0015')).toBe(true);
    expect(eq('3 \\times 10^{4}', '30000')).toBe(true);
  });
  it('exact integers are never equal within tolerance', () => {
    expect(eq('1000000', '1000050')).toBe(false);
    expect(eq('\\frac{1}{3}', '\\frac{1}{3} + 10^{-9}')).toBe(false);
  });
  it('decimals get the relative tolerance (1e-4) and absolute (1e-6)', () => {
    expect(eq('1.0001', '1')).toBe(true);
    expect(eq('5.001', '5')).toBe(false);
    expect(eq('0.0000001', '0')).toBe(true);
    expect(eq('1.0001', '1', { relTol: 1e-6 })).toBe(false);
  });
  it('precision option accepts rounded decimals', () => {
    expect(eq('0.33', '\\frac{1}{3}')).toBe(false);
    expect(eq('0.33', '\\frac{1}{3}', { precision: 2 })).toBe(true);
  });
  it('percent: 28% is 28 and 0.28, but 50% is not 0.5%', () => {
    expect(eq('28\\%', '28')).toBe(true);
    expect(eq('\\boxed{28}\\%', '0.28')).toBe(true);
    expect(eq('28\\%', '0.29')).toBe(false);
    expect(eq('50\\%', '0.5\\%')).toBe(false);
  });
  it('decimal comma only against a single number', () => {
    expect(eq('1,22', '1.22')).toBe(true);
    expect(eq('1,2', '\\{1, 2\\}')).toBe(true);
  });
  it('irrational constants', () => {
    expect(eq('\\sqrt{8}', '2\\sqrt{2}')).toBe(true);
    expect(eq('\\sqrt{17}', '4.123105625617661')).toBe(true);
    expect(eq('\\frac{9}{4}\\pi', '2.25\\pi')).toBe(true);
    expect(eq('4\\sqrt{2}', '4')).toBe(false);
  });
  it('complex numbers', () => {
    expect(eq('(1+i)^2', '2i')).toBe(true);
    expect(eq('-2 + 7i', '7i - 2')).toBe(true);
    expect(eq('1 - 12i', '1 + 12i')).toBe(false);
  });
});

describe('answersEqual: expressions', () => {
  it('polynomial identities are decided exactly', () => {
    expect(eq('(r+5)(r+5)', '(r+5)^2')).toBe(true);
    expect(eq('x^2+2x+1', 'x^2 + 2*x - (-1)')).toBe(true);
    expect(eq('x^2+2x+1', 'x^3+2x+1')).toBe(false);
    expect(eq('\\frac{x}{7}+\\frac{2}{7}', '\\frac{x+2}{7}')).toBe(true);
  });
  it('trig and roots are decided numerically', () => {
    expect(eq('\\sec^2(y)', '\\tan^2(y)+1')).toBe(true);
    expect(eq('x^{2/3}', '\\sqrt[3]{x}^2')).toBe(true);
    expect(eq('\\sin x', '\\cos x')).toBe(false);
    expect(eq('\\sin 2x', '\\sin(2x)')).toBe(true);
    expect(eq('2 \\sin b \\cos a', '2\\cos(a)\\sin(b)')).toBe(true);
  });
  it('± gives both signs', () => {
    expect(eq('1 \\pm \\sqrt{19}', '1+\\sqrt{19}, 1-\\sqrt{19}')).toBe(true);
    expect(eq('\\pm 2021', '2021')).toBe(false);
  });
  it('words compare as words', () => {
    expect(eq('\\text{odd}', 'odd')).toBe(true);
    expect(eq('odd', '\\text{oddd}')).toBe(false);
  });
});

describe('answersEqual: structures', () => {
  it('tuples are ordered', () => {
    expect(eq('(1,4.5)', '(1,\\frac{9}{2})')).toBe(true);
    expect(eq('(1,2)', '(2,1)')).toBe(false);
  });
  it('intervals: the bracket kind matters', () => {
    expect(eq('[0,1)', '[0,1)')).toBe(true);
    expect(eq('[0,1)', '(0,1)')).toBe(false);
    expect(eq('(-\\infty, 2) \\cup (3, \\infty)', '(3,\\infty)\\cup(-\\infty,2)')).toBe(true);
    expect(eq('x > 5', '(5, \\infty)')).toBe(true);
    expect(eq('-1 < x \\le 3', '(-1, 3]')).toBe(true);
  });
  it('sets and comma lists are order-free', () => {
    expect(eq('\\{1,2,3\\}', '\\{3,1,2\\}')).toBe(true);
    expect(eq('3, 5, 7', '7, 3, 5')).toBe(true);
    expect(eq('3, 5, 7', '3, 5')).toBe(false);
  });
  it('matrices: pmatrix equals bmatrix, entries compared as values', () => {
    expect(eq('\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}', '\\begin{bmatrix} 1 & 0 \\\\ 0 & 1 \\end{bmatrix}')).toBe(true);
    expect(eq('\\begin{pmatrix}1/2\\\\3\\end{pmatrix}', '\\begin{pmatrix}0.5\\\\3\\end{pmatrix}')).toBe(true);
    expect(eq('\\begin{pmatrix}1&2\\\\3&5\\end{pmatrix}', '\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}')).toBe(false);
  });
  it('matrix sums, products and scalar multiples are evaluated entrywise', () => {
    const A = '\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}';
    const B = '\\begin{pmatrix}0 & 1 \\\\ 1 & 0\\end{pmatrix}';
    expect(eq(`${A} + ${B}`, '\\begin{pmatrix}1 & 3 \\\\ 4 & 4\\end{pmatrix}')).toBe(true);
    expect(eq(`${A} ${B}`, '\\begin{pmatrix}2 & 1 \\\\ 4 & 3\\end{pmatrix}')).toBe(true);
    expect(eq(`${B} ${A}`, '\\begin{pmatrix}2 & 1 \\\\ 4 & 3\\end{pmatrix}')).toBe(false); // not commutative
    expect(eq(`2${A} - ${B}`, '\\begin{pmatrix}2 & 3 \\\\ 5 & 8\\end{pmatrix}')).toBe(true);
  });
  it('a ≤ |x| ≤ b is the union of two intervals', () => {
    expect(eq('1 \\le |z| \\le 2', '[-2,-1] \\cup [1,2]')).toBe(true);
    expect(eq('1 < |z| \\le 2', '[-2,-1] \\cup [1,2]')).toBe(false);
  });
  it('equations: compare the right-hand side of a named left side', () => {
    expect(eq('x = 5', '5')).toBe(true);
    expect(eq('(p,q)=(3,2)', '(3,2)')).toBe(true);
    expect(eq('x=2, y=3', '2, 3')).toBe(true);
    expect(eq('a + 3z = 0', '0')).toBe(false);
  });
  it('equations and inequalities: equivalent up to a constant factor', () => {
    expect(eq('y=-\\frac{1}{2}x+\\frac{3}{4}', '2x+4y-3=0')).toBe(true);
    expect(eq('5 \\geq x', 'x \\leq 5')).toBe(true);
    expect(eq('-x > -1', 'x < 1')).toBe(true);
    expect(eq('x > -1', 'x < 1')).toBe(false);
  });
});

describe('realistic completions', () => {
  // [completion, reference, expected]
  const cases: [string, string, boolean][] = [
    ['**Final Answer:** 18', '18', true],
    ['She makes 9 * $2 = $18 every day.', '18', true],
    ['It costs $3 and $15.', '15', true],
    ['Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 14\nThe answer is: 14', '14', true],
    ['Step 1: 3 + 4 = 7\nStep 2: 7 * 2 = 14\nThe answer is: 14', '7', false],
    ['The answer is 18 dollars.', '18', true],
    ['So x = 2 or x = 3.\nThe answer is $x = 2$ or $x = 3$.', '2, 3', true],
    ['Therefore, the answer is $\\frac{1}{2}$. I hope it is correct.', '0.5', true],
    ['so the remainder is $\\boxed{3}$ (mod 7).', '3', true],
    ['The answer is \\boxed{A}', '\\text{(A)}', true],
    ['The answer is \\boxed{A}', 'B', false],
    ['\\boxed{\\frac{1}{\\sqrt{2}}}', '\\frac{\\sqrt{2}}{2}', true],
    ['\\boxed{1.41}', '\\sqrt{2}', false],
    ['\\boxed{10^{-3}}', '0.001', true],
    ['\\boxed{2x - y + 3 = 0}', 'y = 2x + 3', true],
    ['\\boxed{2x - y - 3 = 0}', 'y = 2x + 3', false],
    ['\\boxed{4210_{5}}', '4210_5', true],
    ['\\boxed{4210_{5}}', '4211_5', false],
    ['\\boxed{-13x+3}', '3-13x', true],
  ];
  it.each(cases)('%j vs %j → %s', (pred, gold, want) => {
    expect(answersEqual(pred, gold)).toBe(want);
  });
});

describe('safety', () => {
  it('never throws on junk, and reports why', () => {
    for (const junk of ['', '}}}{{{', '\\frac{', '((((((', '\\sqrt[', '^^^', '1/0', '0^0', '\\boxed{', '$$$$']) {
      expect(() => compareAnswers(junk, junk + '1')).not.toThrow();
    }
    expect(compareAnswers(42 as unknown as string, '42').reason).toBe('invalid-input');
    expect(compareAnswers('no answer here whatsoever', '5').reason).toBe('no-answer');
  });
  it('does not compute huge powers', () => {
    const t0 = cpuMillis();
    const v = compareAnswers('2^{2^{2^{2^{2^{2^{99}}}}}}', '2^{2^{2^{2^{2^{2^{98}}}}}}');
    expect(v.equal).toBe(false);
    expect(cpuMillis() - t0).toBeLessThan(100);
  });
  it('stops deep nesting and long inputs within the time cap', () => {
    const deep = '('.repeat(5000) + '1' + ')'.repeat(5000);
    const long = Array.from({ length: 3000 }, (_, k) => `x^${k % 9}`).join('+');
    for (const s of [deep, long]) {
      const t0 = cpuMillis();
      expect(() => compareAnswers(s, s + '+1')).not.toThrow();
      expect(cpuMillis() - t0).toBeLessThan(100);
    }
  });
  it('extraction and normalisation stay linear on pathological completions', () => {
    const inputs = ['a '.repeat(50_000) + '5', '\\('.repeat(30_000), '$'.repeat(50_000), '$$x'.repeat(20_000), '\\boxed{'.repeat(20_000), '1,'.repeat(30_000)];
    for (const s of inputs) {
      const t0 = cpuMillis();
      expect(() => compareAnswers(s, '5')).not.toThrow();
      expect(cpuMillis() - t0, s.slice(0, 20)).toBeLessThan(100);
    }
  });
  it('the parser has no eval: identifiers are just symbols', () => {
    expect(() => parseExpression('constructor(process)', new Budget(1000, 50))).not.toThrow();
    expect(() => parseExpression('\\unknowncmd{1}', new Budget(1000, 50))).toThrow(ParseError);
  });
});
