/**
 * Peak memory growth of one call, for the "peak memory under ¼ of a materialised [N,V]" target.
 *
 * Method "VmHWM" (Linux): writing 5 to /proc/self/clear_refs resets the process's peak-RSS mark (VmHWM) to the
 * current RSS; after the call, VmHWM − RSS-before is the peak growth, including native scratch that was freed
 * before the call returned. It covers the whole process (JS heap included), so callers pre-allocate the inputs
 * and outputs and measure only what the kernel adds. Where clear_refs is not writable, "rss-delta" reports RSS
 * after − before, a lower bound that misses freed scratch; the method is recorded with every number.
 */
import { readFileSync, writeFileSync } from 'node:fs';

export type PeakMethod = 'VmHWM' | 'rss-delta';

function statusKb(field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

let cachedMethod: PeakMethod | undefined;

export function peakMethod(): PeakMethod {
  if (cachedMethod === undefined) {
    cachedMethod = resetPeak() && statusKb('VmHWM') !== undefined ? 'VmHWM' : 'rss-delta';
  }
  return cachedMethod;
}

/** Runs fn once and returns its peak memory growth in bytes (never negative). */
export function measurePeak(fn: () => void): { bytes: number; method: PeakMethod } {
  const method = peakMethod();
  if (method === 'VmHWM') {
    resetPeak();
    const before = statusKb('VmRSS') ?? 0;
    fn();
    const peak = statusKb('VmHWM') ?? before;
    return { bytes: Math.max(0, peak - before), method };
  }
  const before = process.memoryUsage.rss();
  fn();
  return { bytes: Math.max(0, process.memoryUsage.rss() - before), method };
}
