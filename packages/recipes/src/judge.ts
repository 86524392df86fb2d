/** The one judge (core's answer grader) and tokenizer every stage shares, so labels, votes and evals agree. */
import { CharTokenizer } from '@stepwise/core';
import { answerJudge } from '@stepwise/search';

export const judge = answerJudge();
export const tokenizer = new CharTokenizer();
