import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ArgumentError } from '../src/errors.js';
import { formatSteps, joinSteps, splitSteps, STEP_RULES, stepBody, type StepRule } from '../src/steps.js';

describe('splitSteps', () => {
  test('"Step k:" labels: the label starts its step, the newline ends the previous one', () => {
    const text = "Let's see.\nStep 1: 2+3=5\nStep 2: 5*2=10\nStep 3: The answer is 10";
    expect(splitSteps(text, STEP_RULES.stepLabels)).toEqual(["Let's see.\n", 'Step 1: 2+3=5\n', 'Step 2: 5*2=10\n', 'Step 3: The answer is 10']);
    // A completion primed with "Step 1: " starts with the first body; a "Step 4:" mid-line is not a label.
    expect(splitSteps('x = 1\nStep 2: see Step 4: later', STEP_RULES.stepLabels)).toEqual(['x = 1\n', 'Step 2: see Step 4: later']);
  });

  test('delimiters stay at the end of their step; blank runs join the previous step', () => {
    expect(splitSteps('a\n\nb\n\n\n\nc\n\n', STEP_RULES.doubleNewline)).toEqual(['a\n\n', 'b\n\n\n\n', 'c\n\n']);
    expect(splitSteps('a\nb\n', STEP_RULES.newline)).toEqual(['a\n', 'b\n']);
    expect(splitSteps('\n\na\nb', STEP_RULES.newline)).toEqual(['\n\na\n', 'b']);
    expect(splitSteps('', STEP_RULES.newline)).toEqual([]);
    expect(splitSteps(' \n ', STEP_RULES.newline)).toEqual([' \n ']);
    expect(splitSteps('a<sep>b', { kind: 'delimiter', delimiter: '<sep>' })).toEqual(['a<sep>', 'b']);
  });

  test('regex rules, keeping the match at the end or the start, leaving the caller regex untouched', () => {
    const re = /<\/step>/;
    expect(splitSteps('<step>a</step><step>b</step>', { kind: 'regex', pattern: re })).toEqual(['<step>a</step>', '<step>b</step>']);
    expect(splitSteps('x;y;z', { kind: 'regex', pattern: /;/g, keep: 'start' })).toEqual(['x', ';y', ';z']);
    expect(splitSteps('ab', { kind: 'regex', pattern: /(?=b)/ })).toEqual(['a', 'b']); // empty matches mark positions
    expect(re.lastIndex).toBe(0);
  });

  test('empty delimiter or label is an argument error', () => {
    expect(() => splitSteps('a', { kind: 'delimiter', delimiter: '' })).toThrow(ArgumentError);
    expect(() => splitSteps('a', { kind: 'labels', label: '' })).toThrow(/rule.label/);
  });

  const rules: StepRule[] = [STEP_RULES.stepLabels, STEP_RULES.doubleNewline, STEP_RULES.newline, { kind: 'regex', pattern: /\. /, keep: 'end' }];
  test('property: splitting is lossless and never yields a blank step unless the text is blank', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'ab1 .\n:Step'), maxLength: 60 }), fc.constantFrom(...rules), (text, rule) => {
        const steps = splitSteps(text, rule);
        expect(joinSteps(steps)).toBe(text);
        if (text.trim().length > 0) for (const s of steps) expect(s.trim().length).toBeGreaterThan(0);
      }),
      { numRuns: 300, seed: 1 },
    );
  });

  test('property: formatSteps → join → splitSteps → stepBody gives the bodies back', () => {
    const body = fc.string({ unit: fc.constantFrom(...'abc 123=+x'), minLength: 1, maxLength: 12 }).filter((b) => b.trim() === b && b.length > 0);
    fc.assert(
      fc.property(fc.array(body, { maxLength: 6 }), fc.constantFrom(STEP_RULES.stepLabels, STEP_RULES.doubleNewline, STEP_RULES.newline), (bodies, rule) => {
        const steps = formatSteps(bodies, rule);
        expect(splitSteps(joinSteps(steps), rule)).toEqual(steps);
        expect(steps.map((s) => stepBody(s, rule))).toEqual(bodies);
      }),
      { numRuns: 200, seed: 2 },
    );
  });
});
