#!/usr/bin/env node
// Measures the grader against shared/data/answer_equiv_cases.jsonl (rows without a `policy` field) and prints
// the agreement and every disagreement. Run after `npm run build`:
//   node packages/core/scripts/grade-cases.mjs [--all] [--json]
// The data directory is <repo>/../shared/data, or $STEPWISE_SHARED_DATA.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareAnswers, cpuMillis } from '../dist/index.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const dataDir = process.env.STEPWISE_SHARED_DATA ?? resolve(repoRoot, '../shared/data');
const file = resolve(dataDir, 'answer_equiv_cases.jsonl');
if (!existsSync(file)) {
  console.error(`grade-cases: ${file} not found (set STEPWISE_SHARED_DATA)`);
  process.exit(2);
}
const showAll = process.argv.includes('--all');
const rows = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l));
let n = 0;
let agree = 0;
let maxMs = 0;
let maxCpu = 0;
const disagreements = [];
rows.forEach((row, i) => {
  if ('policy' in row) return;
  // The source call's float rounding (Math-Verify `precision`) is passed through; nothing else from the row.
  const precision = row.options?.precision;
  const t0 = performance.now();
  const c0 = cpuMillis();
  const v = compareAnswers(row.pred, row.gold, precision === undefined ? {} : { precision });
  maxCpu = Math.max(maxCpu, cpuMillis() - c0);
  maxMs = Math.max(maxMs, performance.now() - t0);
  n++;
  if (v.equal === row.equal) agree++;
  else disagreements.push({ line: i + 1, expected: row.equal, got: v.equal, reason: v.reason, test: row.test, source: row.source.split('@')[0], pred: v.pred, gold: v.gold, suspect: row.suspect === true });
  if (showAll) console.log(JSON.stringify({ line: i + 1, expected: row.equal, got: v.equal, reason: v.reason, pred: v.pred, gold: v.gold }));
});
console.log(`agreement: ${agree}/${n} = ${((100 * agree) / n).toFixed(2)}% (rows without policy); max time per comparison ${maxMs.toFixed(1)} ms wall, ${maxCpu.toFixed(1)} ms CPU`);
for (const d of disagreements) console.log(JSON.stringify(d));
