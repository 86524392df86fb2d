/** Answer extraction, normalisation and equivalence for grading math answers (docs/grading.md). */
export { extractAnswer, findBoxed, looksLikeProse, statedAnswer, type BoxedSpan, type ExtractOptions } from './extract.js';
export { normalizeAnswer, compactAnswer } from './latex.js';
export { answersEqual, compareAnswers, type GradeOptions, type Verdict, type EqualReason } from './equivalence.js';
export { parseExpression, ParseError, type Node } from './parse.js';
export { parseAnswer, type Value } from './structure.js';
export { Budget, BudgetExceeded, cpuMillis } from './budget.js';
