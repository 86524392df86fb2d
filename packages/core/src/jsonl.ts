/**
 * JSON Lines files that survive crashes.
 *
 * Writing: each record is one `JSON.stringify(record) + "\n"` written with a single write call and then
 * fsynced (`durability: 'record'`, the default), or a batch of records written and fsynced together
 * (`appendBatch`, or `durability: 'batch'` where `flush()` fsyncs). The newline is the last byte of every
 * write, so a crash can only leave a *prefix* of the last line, without its newline: the truncated tail.
 * Reading: every complete line must parse (and pass the validator, if given) or a JsonlError names the file,
 * line and field; a truncated tail is skipped and reported, never returned as a record.
 * Reopening a writer cuts the truncated tail off before appending, so the next record starts on a new line.
 * One writer per file at a time: two concurrent writers can interleave partial lines.
 */
import { open, stat, truncate, type FileHandle } from 'node:fs/promises';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { JsonlError, StepwiseError, ValidationError } from './errors.js';

/** The incomplete last line found at the end of a file (a write cut short by a crash). */
export interface TruncatedTail {
  /** 1-based line number the partial line would have had. */
  line: number;
  /** Byte offset where it starts (= the length of the complete part of the file). */
  offset: number;
  bytes: number;
}

export interface ReadOptions<T> {
  /** Checks one parsed record and returns it typed; a ValidationError becomes a JsonlError naming its field. */
  validate?: (value: unknown) => T;
}

export interface JsonlContents<T> {
  records: T[];
  truncatedTail: TruncatedTail | null;
}

const CHUNK = 1 << 20;
const NEWLINE = 0x0a;

/** Reads every complete record of a JSONL file; a missing file reads as empty. */
export async function readJsonl<T = unknown>(path: string, options: ReadOptions<T> = {}): Promise<JsonlContents<T>> {
  const records: T[] = [];
  const truncatedTail = await scanJsonl(path, options, (record) => void records.push(record));
  return { records, truncatedTail };
}

/**
 * Calls `onRecord` for every complete line in order (so huge files need not fit in memory) and returns the
 * truncated tail, if any. A missing file has no records and no tail.
 */
export async function scanJsonl<T = unknown>(
  path: string,
  options: ReadOptions<T>,
  onRecord: (record: T, line: number) => void,
): Promise<TruncatedTail | null> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let lineNo = 0;
    let offset = 0; // file offset of the first byte of the current (pending) line
    const buf = Buffer.allocUnsafe(CHUNK);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      let start = 0;
      for (let nl = buf.indexOf(NEWLINE, 0); nl !== -1 && nl < bytesRead; nl = buf.indexOf(NEWLINE, start)) {
        const piece = buf.subarray(start, nl);
        const line = pending.length ? Buffer.concat([...pending, piece]) : piece;
        lineNo++;
        onRecord(parseLine(path, lineNo, line, options), lineNo);
        offset += line.length + 1;
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
      }
      if (start < bytesRead) {
        pending.push(Buffer.from(buf.subarray(start, bytesRead)));
        pendingBytes += bytesRead - start;
      }
    }
    return pendingBytes > 0 ? { line: lineNo + 1, offset, bytes: pendingBytes } : null;
  } finally {
    await handle.close();
  }
}

function parseLine<T>(file: string, line: number, bytes: Buffer, options: ReadOptions<T>): T {
  if (bytes.length === 0) throw new JsonlError(file, line, 'empty line (writers never produce one)');
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new JsonlError(file, line, `not valid JSON (${(err as Error).message})`, undefined, { cause: err });
  }
  if (!options.validate) return value as T;
  try {
    return options.validate(value);
  } catch (err) {
    if (err instanceof ValidationError) throw new JsonlError(file, line, err.message, err.field, { cause: err });
    throw err;
  }
}

export type Durability = 'record' | 'batch';

export interface WriterOptions {
  /** 'record' (default): fsync after every append. 'batch': fsync only in flush()/appendBatch()/close(). */
  durability?: Durability;
}

/** Appends records to a JSONL file; see the module comment for the crash guarantees. */
export class JsonlWriter {
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
    private readonly durability: Durability,
    /** The partial last line cut off when the file was opened (null when the file ended cleanly). */
    readonly repairedTail: TruncatedTail | null,
  ) {}

  /** Opens (creating) `path` for appending, first cutting off a truncated last line left by a crash. */
  static async open(path: string, options: WriterOptions = {}): Promise<JsonlWriter> {
    await mkdir(dirname(path), { recursive: true });
    const tail = await findTruncatedTail(path);
    if (tail) await truncate(path, tail.offset);
    const handle = await open(path, 'a');
    if (tail) await handle.sync(); // make the cut durable before anything new lands after it
    return new JsonlWriter(path, handle, options.durability ?? 'record', tail);
  }

  /** Appends one record (one write call; fsynced when durability is 'record'). */
  append(record: unknown): Promise<void> {
    return this.enqueue([record], this.durability === 'record');
  }

  /** Appends records with one write call and one fsync: after a crash, a prefix of them survives whole. */
  appendBatch(records: readonly unknown[]): Promise<void> {
    return this.enqueue(records, true);
  }

  /** Waits for queued appends and fsyncs. */
  flush(): Promise<void> {
    return this.enqueue([], true);
  }

  /** Flushes and closes; appends made after close() starts are refused, the file is closed even if flushing fails. */
  async close(): Promise<void> {
    if (this.closed) return;
    const flushed = this.flush();
    this.closed = true;
    try {
      await flushed;
    } finally {
      await this.handle.close();
    }
  }

  private enqueue(records: readonly unknown[], sync: boolean): Promise<void> {
    if (this.closed) return Promise.reject(new StepwiseError(`${this.path}: writer is closed`));
    // Serialise before queueing: a record that cannot be stringified fails its own append, nothing else.
    let text: string;
    try {
      text = records.map((r, i) => serialise(this.path, r, i)).join('');
    } catch (err) {
      return Promise.reject(err);
    }
    const run = async () => {
      // write() may accept fewer bytes than asked; loop so the newline is always the last byte written.
      const bytes = Buffer.from(text, 'utf8');
      for (let off = 0; off < bytes.length; ) off += (await this.handle.write(bytes, off, bytes.length - off)).bytesWritten;
      if (sync) await this.handle.sync();
    };
    const next = this.queue.then(run);
    // Keep the chain alive after a failure so later appends still run (and report their own errors).
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function serialise(path: string, record: unknown, index: number): string {
  const text = JSON.stringify(record);
  if (text === undefined) throw new JsonlError(path, -1, `record ${index} is not JSON-serialisable (${typeof record})`);
  // JSON.stringify escapes newlines inside strings, so one record is always exactly one line.
  return `${text}\n`;
}

/** Finds the partial last line without parsing the complete ones (cheap even for large files). */
export async function findTruncatedTail(path: string): Promise<TruncatedTail | null> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (size === 0) return null;
  const handle = await open(path, 'r');
  try {
    // Walk backwards chunk by chunk to the last newline.
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, size));
    let end = size;
    while (end > 0) {
      const start = Math.max(0, end - buf.length);
      const { bytesRead } = await handle.read(buf, 0, end - start, start);
      const nl = buf.subarray(0, bytesRead).lastIndexOf(NEWLINE);
      if (nl !== -1) {
        const offset = start + nl + 1;
        if (offset === size) return null;
        return { line: await countLines(handle, offset) + 1, offset, bytes: size - offset };
      }
      end = start;
    }
    return { line: 1, offset: 0, bytes: size };
  } finally {
    await handle.close();
  }
}

async function countLines(handle: FileHandle, upTo: number): Promise<number> {
  const buf = Buffer.allocUnsafe(CHUNK);
  let count = 0;
  for (let pos = 0; pos < upTo; ) {
    const { bytesRead } = await handle.read(buf, 0, Math.min(CHUNK, upTo - pos), pos);
    for (let i = buf.indexOf(NEWLINE, 0); i !== -1 && i < bytesRead; i = buf.indexOf(NEWLINE, i + 1)) count++;
    pos += bytesRead;
  }
  return count;
}

export interface ResumeOptions<T> extends ReadOptions<T>, WriterOptions {
  /** The record's identity (problem id, sequence number, …): a key already in the file is never appended again. */
  key: (record: T) => string;
}

/**
 * A JSONL output that a stage can stop and resume: reading it gives the keys already done, and appending a
 * done key throws instead of duplicating the record.
 */
export class ResumableJsonl<T> {
  private constructor(
    readonly writer: JsonlWriter,
    readonly done: Set<string>,
    /** Records already in the file when it was opened (complete lines only). */
    readonly existing: number,
    private readonly key: (record: T) => string,
  ) {}

  /** Reads `path` (validating every complete line, erroring on duplicate keys) and opens it for appending. */
  static async open<T>(path: string, options: ResumeOptions<T>): Promise<ResumableJsonl<T>> {
    const done = new Set<string>();
    let existing = 0;
    await scanJsonl(path, options, (record, line) => {
      const k = options.key(record);
      if (done.has(k)) throw new JsonlError(path, line, `duplicate key ${JSON.stringify(k)}`);
      done.add(k);
      existing++;
    });
    const writer = await JsonlWriter.open(path, options);
    return new ResumableJsonl(writer, done, existing, options.key);
  }

  has(key: string): boolean {
    return this.done.has(key);
  }

  async append(record: T): Promise<void> {
    const k = this.key(record);
    if (this.done.has(k)) throw new JsonlError(this.writer.path, -1, `key ${JSON.stringify(k)} is already written`);
    this.done.add(k);
    try {
      await this.writer.append(record);
    } catch (err) {
      this.done.delete(k);
      throw err;
    }
  }

  /** Appends several new records with one write and one fsync; nothing is written if any key is done. */
  async appendBatch(records: readonly T[]): Promise<void> {
    const keys = records.map(this.key);
    const fresh = new Set<string>();
    for (const k of keys) {
      if (this.done.has(k) || fresh.has(k)) throw new JsonlError(this.writer.path, -1, `key ${JSON.stringify(k)} is already written`);
      fresh.add(k);
    }
    for (const k of keys) this.done.add(k);
    try {
      await this.writer.appendBatch(records);
    } catch (err) {
      for (const k of keys) this.done.delete(k);
      throw err;
    }
  }

  close(): Promise<void> {
    return this.writer.close();
  }
}
