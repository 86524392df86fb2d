// Child processes cannot import TypeScript on Node 20 (no type stripping), so tests that spawn a child
// transpile the modules it needs into a temporary folder with the TypeScript compiler itself.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

export function transpileSources(names: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'stepwise-core-js-'));
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  for (const name of names) {
    const src = readFileSync(new URL(`../src/${name}.ts`, import.meta.url), 'utf8');
    const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } });
    writeFileSync(join(dir, `${name}.js`), out.outputText);
  }
  return dir;
}
