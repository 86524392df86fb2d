/**
 * Reading user-supplied datasets: JSON Lines (and files of concatenated JSON objects, as PRM800K ships) with
 * positions, plus typed field access that throws FormatError naming file, line and field. This is strict on
 * purpose and differs from @stepwise/core's readJsonl, which reads the run directory's own append-only files
 * and tolerates a truncated last line left by a crash: in a dataset a cut-off line is an error to report.
 */
import { readFileSync } from 'node:fs';
import { FormatError, describeValue, type RecordSource } from './errors.js';

export interface PositionedValue {
  /** 1-based line where the record starts. */
  line: number;
  value: unknown;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new FormatError(path, 0, '(file)', `cannot read: ${(e as Error).message}`);
  }
}

/** Parse JSON Lines text; blank lines are skipped, any other unparsable line is a FormatError. */
export function parseDatasetJsonl(text: string, file = '<memory>'): PositionedValue[] {
  const out: PositionedValue[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i].replace(/\r$/, '');
    if (raw.trim() === '') continue;
    try {
      out.push({ line: i + 1, value: JSON.parse(raw) });
    } catch (e) {
      throw new FormatError(file, i + 1, '(record)', `invalid JSON: ${(e as Error).message}`);
    }
  }
  return out;
}

export function readDatasetJsonl(path: string): PositionedValue[] {
  return parseDatasetJsonl(readText(path), path);
}

interface Span {
  start: number;
  end: number;
  line: number;
}

/**
 * Find the JSON values in text[from, to) that follow one another, separated by whitespace (and by commas when
 * `commas`, i.e. inside an array). Tracks strings and brackets only; JSON.parse validates each value after.
 */
function scanValues(text: string, from: number, to: number, firstLine: number, commas: boolean): Span[] {
  const spans: Span[] = [];
  let i = from;
  let line = firstLine;
  const isSep = (c: string) => /\s/.test(c) || (commas && c === ',');
  while (i < to) {
    while (i < to && isSep(text[i])) {
      if (text[i] === '\n') line++;
      i++;
    }
    if (i >= to) break;
    const start = i;
    const startLine = line;
    let depth = 0;
    let inString = false;
    for (; i < to; i++) {
      const c = text[i];
      if (c === '\n') line++;
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') {
        depth--;
        if (depth === 0) {
          i++;
          break;
        }
      } else if (depth === 0 && isSep(c)) break;
    }
    spans.push({ start, end: i, line: startLine });
  }
  return spans;
}

function parseSpan(text: string, span: Span, file: string): unknown {
  try {
    return JSON.parse(text.slice(span.start, span.end));
  } catch (e) {
    throw new FormatError(file, span.line, '(record)', `invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Parse text holding JSON values one after another (pretty-printed or not), e.g. PRM800K example files. A text
 * that is a single JSON array (Full-Step-DPO's training file) yields the array's items, each with its own line.
 */
export function parseConcatenatedJson(text: string, file = '<memory>'): PositionedValue[] {
  const spans = scanValues(text, 0, text.length, 1, false);
  if (spans.length === 1 && text[spans[0].start] === '[') {
    parseSpan(text, spans[0], file); // validates the whole array first, so item errors are real
    const inner = scanValues(text, spans[0].start + 1, spans[0].end - 1, spans[0].line, true);
    return inner.map((sp) => ({ line: sp.line, value: parseSpan(text, sp, file) }));
  }
  return spans.map((sp) => ({ line: sp.line, value: parseSpan(text, sp, file) }));
}

export function readConcatenatedJson(path: string): PositionedValue[] {
  return parseConcatenatedJson(readText(path), path);
}

/** Typed field readers: each throws FormatError(src.file, src.line, path, ...) on a type mismatch. */
export class Fields {
  constructor(
    readonly src: RecordSource,
    readonly value: unknown,
    readonly path = '',
  ) {}

  private fail(field: string, expected: string, got: unknown): never {
    throw new FormatError(this.src.file, this.src.line, field || '(record)', `expected ${expected}, got ${describeValue(got)}`);
  }

  private join(key: string | number): string {
    return typeof key === 'number' ? `${this.path}[${key}]` : this.path ? `${this.path}.${key}` : key;
  }

  /** This value as an object (a FormatError when it is not a plain object). */
  object(): Record<string, unknown> {
    const v = this.value;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(this.path, 'an object', v);
    return v as Record<string, unknown>;
  }

  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.object(), key);
  }

  at(key: string | number): Fields {
    const v = typeof key === 'number' ? this.array()[key] : this.object()[key];
    return new Fields(this.src, v, this.join(key));
  }

  array(): unknown[] {
    if (!Array.isArray(this.value)) this.fail(this.path, 'an array', this.value);
    return this.value as unknown[];
  }

  items(): Fields[] {
    return this.array().map((_, i) => this.at(i));
  }

  string(): string {
    if (typeof this.value !== 'string') this.fail(this.path, 'a string', this.value);
    return this.value as string;
  }

  number(): number {
    if (typeof this.value !== 'number' || !Number.isFinite(this.value)) this.fail(this.path, 'a finite number', this.value);
    return this.value as number;
  }

  boolean(): boolean {
    if (typeof this.value !== 'boolean') this.fail(this.path, 'a boolean', this.value);
    return this.value as boolean;
  }

  /** Whether this value is null (or the key was absent). */
  isNull(): boolean {
    return this.value === null || this.value === undefined;
  }

  stringArray(): string[] {
    return this.items().map((f) => f.string());
  }

  numberArray(): number[] {
    return this.items().map((f) => f.number());
  }

  /** A FormatError at this field with a custom message. */
  error(problem: string): FormatError {
    return new FormatError(this.src.file, this.src.line, this.path || '(record)', problem);
  }
}

export function fieldsOf(value: unknown, src: RecordSource): Fields {
  return new Fields(src, value);
}
