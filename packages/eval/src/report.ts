/**
 * Writers for what a person reads first: a Markdown results table and small SVG plots (accuracy per stage
 * with 95% error bars; training curves). Plain strings, no plotting dependency.
 */
import type { Interval, PairedComparison } from './stats.js';

const pct = (x: number) => `${(100 * x).toFixed(1)}`;

/** "62.5 [55.1, 69.4]" */
export function formatInterval(i: Interval | undefined): string {
  return i ? `${pct(i.estimate)} [${pct(i.lo)}, ${pct(i.hi)}]` : '–';
}

/** "+3.0 [-2.9, 8.9] (p = 0.51)": a paired difference in percentage points with its 95% interval and exact p. */
export function formatDifference(d: PairedComparison): string {
  return `${d.estimate >= 0 ? '+' : ''}${pct(d.estimate)} [${pct(d.lo)}, ${pct(d.hi)}] (p = ${d.pValue.toPrecision(2)})`;
}

/** A Markdown table: one row per stage, one column per protocol, cells "acc [lo, hi]" in percent. */
export function markdownTable(rows: readonly { name: string; cells: Record<string, Interval | undefined> }[], columns: readonly string[]): string {
  const head = `| stage | ${columns.join(' | ')} |`;
  const rule = `|---|${columns.map(() => '---').join('|')}|`;
  const body = rows.map((r) => `| ${r.name} | ${columns.map((c) => formatInterval(r.cells[c])).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Bar chart of accuracies with 95% error bars, one bar per stage. */
export function accuracyBarsSvg(title: string, bars: readonly { label: string; interval: Interval }[]): string {
  const w = 120 + 90 * bars.length;
  const h = 300;
  const top = 40;
  const bottom = 240;
  const y = (v: number) => bottom - (bottom - top) * v;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<line x1="60" y1="${bottom}" x2="${w - 20}" y2="${bottom}" stroke="black"/>`,
    `<line x1="60" y1="${top}" x2="60" y2="${bottom}" stroke="black"/>`,
  ];
  for (let t = 0; t <= 1.0001; t += 0.25) {
    parts.push(`<text x="54" y="${y(t) + 4}" text-anchor="end">${Math.round(t * 100)}%</text>`);
    parts.push(`<line x1="58" y1="${y(t)}" x2="${w - 20}" y2="${y(t)}" stroke="#ddd"/>`);
  }
  bars.forEach((b, i) => {
    const x = 80 + i * 90;
    const { estimate, lo, hi } = b.interval;
    parts.push(`<rect x="${x}" y="${y(estimate)}" width="50" height="${bottom - y(estimate)}" fill="#4878a8"/>`);
    parts.push(`<line x1="${x + 25}" y1="${y(lo)}" x2="${x + 25}" y2="${y(hi)}" stroke="black"/>`);
    parts.push(`<line x1="${x + 18}" y1="${y(lo)}" x2="${x + 32}" y2="${y(lo)}" stroke="black"/>`);
    parts.push(`<line x1="${x + 18}" y1="${y(hi)}" x2="${x + 32}" y2="${y(hi)}" stroke="black"/>`);
    parts.push(`<text x="${x + 25}" y="${bottom + 16}" text-anchor="middle">${escapeXml(b.label)}</text>`);
    parts.push(`<text x="${x + 25}" y="${y(estimate) - 6}" text-anchor="middle">${pct(estimate)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

/** Line chart of one or more series (e.g. training loss per step). Non-finite points are skipped. */
export function lineChartSvg(title: string, series: readonly { name: string; points: readonly [number, number][] }[]): string {
  const w = 520;
  const h = 300;
  const [left, right, top, bottom] = [60, w - 120, 40, 250];
  const pts = series.flatMap((s) => s.points).filter(([x, v]) => Number.isFinite(x) && Number.isFinite(v));
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [0, 1];
  const [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  const sx = (x: number) => left + ((right - left) * (x - x0)) / (x1 - x0 || 1);
  const sy = (v: number) => bottom - ((bottom - top) * (v - y0)) / (y1 - y0 || 1);
  const colours = ['#4878a8', '#d0673d', '#4f9a4f', '#8a5fb0', '#b0a030'];
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="12">`,
    `<text x="${w / 2}" y="20" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    `<line x1="${left}" y1="${bottom}" x2="${right}" y2="${bottom}" stroke="black"/>`,
    `<line x1="${left}" y1="${top}" x2="${left}" y2="${bottom}" stroke="black"/>`,
    `<text x="${left - 6}" y="${top + 4}" text-anchor="end">${y1.toPrecision(3)}</text>`,
    `<text x="${left - 6}" y="${bottom}" text-anchor="end">${y0.toPrecision(3)}</text>`,
    `<text x="${left}" y="${bottom + 16}" text-anchor="middle">${x0}</text>`,
    `<text x="${right}" y="${bottom + 16}" text-anchor="middle">${x1}</text>`,
  ];
  series.forEach((s, i) => {
    const d = s.points
      .filter(([x, v]) => Number.isFinite(x) && Number.isFinite(v))
      .map(([x, v], k) => `${k === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(v).toFixed(1)}`)
      .join(' ');
    const c = colours[i % colours.length];
    parts.push(`<path d="${d}" fill="none" stroke="${c}" stroke-width="1.5"/>`);
    parts.push(`<text x="${right + 8}" y="${top + 14 * (i + 1)}" fill="${c}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}
