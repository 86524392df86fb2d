/**
 * safetensors read/write (https://github.com/huggingface/safetensors): 8-byte little-endian header length, a
 * JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}, then the raw
 * little-endian data. Writes are atomic (temp file + fsync + rename + directory fsync); reads go tensor by tensor
 * (the file is never loaded whole). Supported dtypes: F32, BF16, F16 (read only) and F64.
 */
import { closeSync, fsyncSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

import { CheckpointError } from './errors.js';

export type StDtype = 'F32' | 'BF16' | 'F16' | 'F64';

export interface StWriteTensor {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array;
  /** Stored element type. Default: F32. */
  dtype?: 'F32' | 'BF16' | 'F64';
}

const BYTES: Record<StDtype, number> = { F32: 4, BF16: 2, F16: 2, F64: 8 };

/** fp32 -> bf16 bits with round-to-nearest-even (NaN stays NaN), as native/common/dtype.h. */
export function toBf16(src: Float32Array | Float64Array): Uint16Array {
  const f = src instanceof Float32Array ? src : Float32Array.from(src);
  const u = new Uint32Array(f.buffer, f.byteOffset, f.length);
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    const b = u[i]!;
    if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) out[i] = (b >>> 16) | 0x40;
    else out[i] = ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
  }
  return out;
}

function encode(t: StWriteTensor): Uint8Array {
  const dt = t.dtype ?? 'F32';
  if (dt === 'BF16') {
    const h = toBf16(t.data);
    return new Uint8Array(h.buffer, h.byteOffset, h.byteLength);
  }
  const a = dt === 'F64' ? (t.data instanceof Float64Array ? t.data : Float64Array.from(t.data)) : t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  }
}

/** Writes `bytes` chunks to path atomically: a temp file in the same directory, fsync, rename, fsync dir. */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.byteLength) off += writeSync(fd, c, off, c.byteLength - off);
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}

export function writeSafetensors(path: string, tensors: readonly StWriteTensor[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new CheckpointError(`${t.name}: shape [${t.shape}] does not match ${t.data.length} values`);
    const bytes = n * BYTES[t.dtype ?? 'F32'];
    header[t.name] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);  // data section 8-byte aligned
  const jsonBytes = new TextEncoder().encode(json);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  const chunks = function* () {
    yield len;
    yield jsonBytes;
    for (const t of tensors) yield encode(t);  // encoded lazily: one tensor's copy at a time
  };
  writeFileAtomic(path, chunks());
}

export interface StEntry {
  dtype: StDtype;
  shape: number[];
  data_offsets: [number, number];
}

/** A safetensors file opened for reading tensor by tensor. */
export class SafetensorsReader {
  readonly entries = new Map<string, StEntry>();
  readonly metadata: Record<string, string> = {};
  private readonly fd: number;
  private readonly dataStart: number;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new CheckpointError(`${path}: cannot open (${(e as Error).message})`);
    }
    const len = Buffer.alloc(8);
    if (readSync(this.fd, len, 0, 8, 0) !== 8) throw new CheckpointError(`${path}: not a safetensors file (too short)`);
    const n = Number(len.readBigUInt64LE(0));
    if (n <= 0 || n > 100_000_000) throw new CheckpointError(`${path}: not a safetensors file (header length ${n})`);
    const hb = Buffer.alloc(n);
    readSync(this.fd, hb, 0, n, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(hb.toString('utf8'));
    } catch {
      throw new CheckpointError(`${path}: the safetensors header is not valid JSON`);
    }
    this.dataStart = 8 + n;
    for (const [k, v] of Object.entries(header)) {
      if (k === '__metadata__') Object.assign(this.metadata, v);
      else this.entries.set(k, v as StEntry);
    }
  }

  /** The tensor converted to float32 (or float64 when asked), with its shape. */
  read(name: string, as: 'float32' | 'float64' = 'float32'): { shape: number[]; data: Float32Array | Float64Array } {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError(`${this.path}: no tensor '${name}'`);
    if (!(e.dtype in BYTES)) throw new CheckpointError(`${this.path}: ${name} has unsupported dtype ${e.dtype}`);
    const [b, end] = e.data_offsets;
    const count = e.shape.reduce((x, y) => x * y, 1);
    if (end - b !== count * BYTES[e.dtype]) throw new CheckpointError(`${this.path}: ${name} has inconsistent data_offsets`);
    const buf = new Uint8Array(end - b);
    let got = 0;
    while (got < buf.length) {
      const r = readSync(this.fd, buf, got, buf.length - got, this.dataStart + b + got);
      if (r <= 0) throw new CheckpointError(`${this.path}: truncated at ${name}`);
      got += r;
    }
    const out = as === 'float64' ? new Float64Array(count) : new Float32Array(count);
    const dv = new DataView(buf.buffer);
    if (e.dtype === 'F32') for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
    else if (e.dtype === 'F64') for (let i = 0; i < count; i++) out[i] = dv.getFloat64(i * 8, true);
    else if (e.dtype === 'BF16') {
      const tmp = new Uint32Array(1);
      const f = new Float32Array(tmp.buffer);
      for (let i = 0; i < count; i++) {
        tmp[0] = dv.getUint16(i * 2, true) << 16;
        out[i] = f[0]!;
      }
    } else {
      for (let i = 0; i < count; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
    }
    return { shape: e.shape, data: out };
  }

  close(): void {
    closeSync(this.fd);
  }
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}
