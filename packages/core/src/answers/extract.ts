/**
 * Finding the final answer in a model completion (methods.md §1.4 step 1, plus the markers other graders use):
 *   1. GSM8K `#### N`;
 *   2. `final answer is …` (Minerva/Step-DPO style, up to "I hope");
 *   3. the last `\boxed{…}` / `\fbox{…}` (brace-matched; boxes separated only by a few words such as "and" are
 *      one answer: `\boxed{1} and \boxed{2}`);
 *   4. `answer is …` / `Final Answer: …`;
 *   5. otherwise the text itself when it reads as an answer (no prose), else the last math span or number.
 * Returns null when no answer can be found.
 */
import { fixDoubleEscapes, matchBrace, UNIT_WORDS } from './latex.js';

export interface BoxedSpan {
  content: string;
  start: number;
  end: number; // index after the box
}

/** Every `\boxed{…}`, `\fbox{…}` and `\boxed X` in order. Nested braces are matched; an unclosed box runs to the end. */
export function findBoxed(text: string): BoxedSpan[] {
  const out: BoxedSpan[] = [];
  const re = /\\(?:boxed|fbox)(?![A-Za-z])/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    let i = m.index + m[0].length;
    while (text[i] === ' ') i++;
    if (text[i] === '{') {
      const close = matchBrace(text, i);
      const end = close < 0 ? text.length : close;
      let content = text.slice(i + 1, end);
      let after = close < 0 ? text.length : close + 1;
      // Keep a % written right after the box: \boxed{28}\% (methods.md §1.4).
      const pct = /^\s*\\?%/.exec(text.slice(after));
      if (pct) {
        content += '%';
        after += pct[0].length;
      }
      out.push({ content, start: m.index, end: after });
      re.lastIndex = after;
    } else {
      // `\boxed 5`: the argument runs to the next $ or whitespace-delimited end.
      const rest = /^[^\s$]+/.exec(text.slice(i));
      if (rest) {
        out.push({ content: rest[0], start: m.index, end: i + rest[0].length });
        re.lastIndex = i + rest[0].length;
      }
    }
  }
  return out;
}

const KNOWN_WORDS = new Set([...UNIT_WORDS, 'and', 'or', 'sin', 'cos', 'tan', 'sec', 'csc', 'cot', 'log', 'ln', 'exp', 'sqrt', 'infinity', 'inf', 'pi']);

/** Strips LaTeX commands, text groups and math spans, leaving the prose words of a string. */
function proseWords(s: string): string[] {
  let masked = '';
  let at = 0;
  for (const m of mathSpans(s)) {
    masked += s.slice(at, m.start) + ' ';
    at = m.end;
  }
  masked += s.slice(at);
  const t = masked
    .replace(/\\(?:text\w*|mbox|mathrm|mathbf|textbf|operatorname|begin|end)\s*\{[^{}]*\}/g, ' ')
    .replace(/\\[A-Za-z]+/g, ' ');
  return (t.match(/[A-Za-z]{3,}/g) ?? []).filter((w) => !KNOWN_WORDS.has(w.toLowerCase()));
}

/** True when a string is prose rather than an answer ("the number is 10" vs "10 cm", "odd"). */
export function looksLikeProse(s: string): boolean {
  const words = proseWords(s);
  // One unknown word next to a number ("Soucis : 2,74") is prose; a lone word ("Evelyn") is an answer.
  return words.length >= 2 || (words.length === 1 && /\d/.test(s) && /\s/.test(s.trim()));
}

interface Span {
  text: string;
  start: number;
  end: number;
  math: boolean;
}

/**
 * Math spans: $$…$$, \[…\], $…$ and \(…\) (inline ones on one line, as TeX requires). A hand-written
 * left-to-right scan rather than one regex: with lazy regex quantifiers, 30 000 unclosed `\(` cost seconds.
 * Every indexOf either finds the span's close (and the scan jumps past it) or finds none (and that delimiter
 * kind is never searched again), so the scan is linear apart from one rescan per line for inline spans.
 */
function mathSpans(s: string): Span[] {
  const out: Span[] = [];
  const exhausted = new Set<string>();
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    let open = '';
    let close = '';
    if (c === '$' && s[i - 1] !== '\\') [open, close] = s[i + 1] === '$' ? ['$$', '$$'] : ['$', '$'];
    else if (c === '\\' && s[i + 1] === '[') [open, close] = ['\\[', '\\]'];
    else if (c === '\\' && s[i + 1] === '(') [open, close] = ['\\(', '\\)'];
    else if (c === '\\') {
      i += 2; // an escaped character (\$) is never a delimiter
      continue;
    }
    if (open === '' || exhausted.has(open)) {
      i++;
      continue;
    }
    const inline = open === '$' || open === '\\(';
    let j = s.indexOf(close, i + open.length);
    // An escaped \$ does not close a $ span.
    while (j > 0 && close === '$' && s[j - 1] === '\\') j = s.indexOf(close, j + 1);
    if (j < 0) {
      exhausted.add(open);
      i += open.length;
      continue;
    }
    const body = s.slice(i + open.length, j);
    if (inline) {
      const nl = body.indexOf('\n');
      if (nl >= 0) {
        // Not a span; no opener before that newline can close on this line either.
        i = i + open.length + nl + 1;
        continue;
      }
    }
    if (body.trim() !== '') out.push({ text: body, start: i, end: j + close.length, math: true });
    i = j + close.length;
  }
  return out;
}

/** Numbers in prose: signed, with thousands or decimal commas, decimals, and simple fractions (2/3). */
const NUMBER_RE = /(?<![A-Za-z_^\\\d.])[-−]?\d+(?:[.,]\d+)*(?:\/\d+)?/g;

function numberSpans(s: string, mathRanges: Span[]): Span[] {
  const out: Span[] = [];
  let m: RegExpExecArray | null;
  NUMBER_RE.lastIndex = 0;
  while ((m = NUMBER_RE.exec(s)) !== null) {
    const start = m.index;
    if (mathRanges.some((r) => start >= r.start && start < r.end)) continue;
    // A number glued to letters on the right is a name (2A, 3rd) unless they are a unit (1,000.99m²).
    const after = s.slice(start + m[0].length, start + m[0].length + 12);
    const word = /^[A-Za-z]+/.exec(after)?.[0];
    if (word && !UNIT_WORDS.has(word.toLowerCase())) continue;
    out.push({ text: m[0].replace('−', '-'), start, end: start + m[0].length, math: false });
  }
  return out;
}

/** Text between two answer pieces that only joins them: commas, "and", "or", \quad, \text{and}. */
function isConnector(between: string): boolean {
  const t = between
    .replace(/\\(?:text|mbox|textnormal)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\q?quad|\\[,;:! ]|~/g, ' ')
    .replace(/[\s,;.$]|\\\(|\\\)|\\\[|\\\]/g, ' ')
    .replace(/\b(?:and|or)\b/g, ' ');
  return t.trim() === '';
}

/** The answer in a piece of text that has no stronger marker. */
function fromText(seg: string): string | null {
  const s = seg.trim();
  if (s === '') return null;
  const maths = mathSpans(s);
  if (maths.length === 0 && !looksLikeProse(s)) return s;
  const nums = numberSpans(s, maths);
  const all = [...maths, ...nums].sort((a, b) => a.end - b.end);
  if (all.length === 0) return looksLikeProse(s) ? null : s;
  const lastIdx = all.length - 1;
  const last = all[lastIdx]!;
  if (!last.math) return last.text;
  // Join math spans separated only by connectors: "$1$ and $2$ and $3$".
  const picked = [last.text];
  for (let k = maths.indexOf(last) - 1; k >= 0; k--) {
    const between = s.slice(maths[k]!.end, maths[k + 1]!.start);
    if (!isConnector(between)) break;
    picked.unshift(maths[k]!.text);
  }
  return picked.join(', ');
}

/** Separator between two boxes that still makes them one answer: at most four short words ("papers and"). */
function boxesJoin(between: string): boolean {
  const t = between
    .replace(/\\(?:text|mbox|textnormal)\s*\{([^{}]*)\}/g, ' $1 ')
    .replace(/\\q?quad|\\[,;:! ]|\\\(|\\\)|\\\[|\\\]|~|\$/g, ' ');
  if (/\n\s*\n/.test(between)) return false;
  const words = t.match(/[A-Za-z()]+/g) ?? [];
  // Only punctuation, or a short phrase that ends a list item ("papers and", "for part (a) and"); a bare
  // "then" between two boxes is a correction, not a list.
  if (words.length === 0) return t.length <= 60;
  return words.length <= 4 && t.length <= 60 && (/,/.test(t) || words.some((w) => w === 'and' || w === 'or'));
}

function cutAtHope(s: string): string {
  const k = s.search(/\.?\s*I hope/i);
  return k >= 0 ? s.slice(0, k) : s;
}

export interface ExtractOptions {
  /**
   * When no answer marker is found, fall back to the text itself, its last math span or its last number
   * (rule 5). Default true: graders read unmarked answers of complete solutions that way. Pass false to ask
   * whether a text STATES a final answer; "Step 1: 18 - 5 = 13" has none, though its last number reads as one.
   */
  lastNumberFallback?: boolean;
}

/**
 * The final answer of a completion, or null. The result is still raw LaTeX: normalise it with
 * normalizeAnswer before comparing.
 */
export function extractAnswer(completion: string, opts: ExtractOptions = {}): string | null {
  const text = fixDoubleEscapes(completion);
  // 1. GSM8K reference format.
  const gsm = [...text.matchAll(/####\s*([^\n]+)/g)];
  if (gsm.length > 0) return gsm[gsm.length - 1]![1]!.trim();
  // 2. "The final answer is $…$. I hope it is correct."
  const fa = text.toLowerCase().lastIndexOf('final answer is');
  if (fa >= 0) {
    const seg = cutAtHope(text.slice(fa + 'final answer is'.length));
    const boxed = findBoxed(seg);
    if (boxed.length > 0) return boxed[boxed.length - 1]!.content;
    const got = fromText(seg.replace(/^[\s:]+/, '').replace(/\\"/g, ' '));
    if (got !== null) return got;
  }
  // 3. Boxed answers.
  const boxes = findBoxed(text);
  if (boxes.length > 0) {
    const group = [boxes[boxes.length - 1]!];
    for (let k = boxes.length - 2; k >= 0; k--) {
      if (!boxesJoin(text.slice(boxes[k]!.end, group[0]!.start))) break;
      group.unshift(boxes[k]!);
    }
    return group.map((b) => b.content).join(', ');
  }
  // 4. "The answer is …", "Final Answer: …".
  const markers = [...text.matchAll(/(?:answer is|answer\s*:)/gi)];
  if (markers.length > 0) {
    const m = markers[markers.length - 1]!;
    const got = fromText(cutAtHope(text.slice(m.index + m[0].length)).replace(/^[\s:]+/, ''));
    if (got !== null) return got;
  }
  // 5. The text itself, its last math span, or its last number.
  return opts.lastNumberFallback === false ? null : fromText(text);
}

/** The answer a text states explicitly (####, "final answer is", \boxed, "answer is" / "Answer:"), or null. */
export function statedAnswer(completion: string): string | null {
  return extractAnswer(completion, { lastNumberFallback: false });
}
