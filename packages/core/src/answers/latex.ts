/**
 * String-level LaTeX clean-up of an extracted final answer. The goal is that two spellings of the same answer
 * (`\dfrac12` / `\frac{1}{2}`, `10\text{ cm}` / `10`, `\$1,\!000` / `1000`) become the same string before any
 * parsing, mirroring the normalisation rules of methods.md §1.4 step 2. Nothing here decides equality; it only
 * removes notation that carries no mathematical content for grading.
 */

/** Commands that models (or JSON double-escaping) sometimes write with two backslashes, e.g. `\\frac`. */
const DOUBLE_ESCAPED_COMMANDS =
  'frac|dfrac|tfrac|cfrac|left|right|leq?|geq?|neq?|boxed|fbox|sqrt|pi|text|textbf|mathrm|mathbf|mbox|cdot|times|infty|in|cup|cap|pm|mp|lt|gt|approx|quad|qquad|begin|end|circ|alpha|beta|gamma|theta|sin|cos|tan|log|ln';
const DOUBLE_ESCAPE_RE = new RegExp(`\\\\\\\\(?=(?:${DOUBLE_ESCAPED_COMMANDS})(?![A-Za-z]))`, 'g');

/** `\\frac` → `\frac` when what follows is a known command (a real LaTeX line break `\\` is never followed by one). */
export function fixDoubleEscapes(s: string): string {
  return s.replace(DOUBLE_ESCAPE_RE, '\\');
}

/** Index of the `}` matching the `{` at `open`, or -1. */
export function matchBrace(s: string, open: number): number {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') {
      i++; // an escaped brace `\{` does not count
      continue;
    }
    if (c === '{') depth++;
    else if (c === '}') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

/** Replaces every `\cmd{X}` (braces matched, so nested groups survive) with `f(X)`. */
export function replaceCommandArg(s: string, cmd: string, f: (inner: string) => string): string {
  const needle = `\\${cmd}`;
  let out = '';
  let i = 0;
  for (;;) {
    const j = s.indexOf(needle, i);
    if (j < 0) return out + s.slice(i);
    const after = j + needle.length;
    if (/[A-Za-z]/.test(s[after] ?? '')) {
      out += s.slice(i, after); // a longer command such as \textbf when looking for \text
      i = after;
      continue;
    }
    let k = after;
    while (s[k] === ' ') k++;
    if (s[k] !== '{') {
      out += s.slice(i, after);
      i = after;
      continue;
    }
    const close = matchBrace(s, k);
    if (close < 0) {
      out += s.slice(i, after);
      i = after;
      continue;
    }
    out += s.slice(i, j) + f(s.slice(k + 1, close));
    i = close + 1;
  }
}

const TEXT_COMMANDS = ['text', 'textbf', 'textit', 'textrm', 'textnormal', 'mathrm', 'mathbf', 'mathit', 'mathsf', 'mbox', 'boldsymbol', 'bm', 'mathbb', 'mathcal', 'operatorname', 'hbox'];

/** Words that name a unit or a currency: a number followed only by these is that number. */
export const UNIT_WORDS = new Set(
  (
    'unit units cm centimeter centimeters centimetre centimetres m meter meters metre metres km kilometer kilometers mm ' +
    'inch inches in ft foot feet yard yards yd mile miles mi square sq cubic cu degree degrees deg radian radians rad ' +
    'second seconds sec s minute minutes min hour hours hr hrs h day days week weeks month months year years yr ' +
    'dollar dollars cent cents yuan euro euros pound pounds lb lbs ounce ounces oz gram grams g kg kilogram kilograms ' +
    'liter liters litre litres l ml gallon gallons mph kmh people persons person student students ways items' +
    ' percent percentage pct times'
  ).split(' '),
);

/** Word connectors that separate the items of a list answer ("6 and 8", "(7,11) or (11,7)"). */
const CONNECTOR_RE = /(?<![A-Za-z\\])(?:and|or)(?![A-Za-z])/g;

function stripTrailingTextUnit(s: string): string {
  // `10\text{ cm}^2`, `\frac{270}7\text{ degrees}`, `17\text{ any text}`: a trailing text group after a value is a
  // unit or a remark (methods.md §1.4: "drop trailing \text{unit}"). Only when something precedes it, so that
  // `\text{Evelyn}` survives.
  const m = /^(.*\S)\s*\\(?:text|textnormal|textrm|mbox|textbf|mathrm|hbox)\s*\{([^{}]*)\}\s*(?:\^\s*\{?\s*[23]\s*\}?)?\s*$/s.exec(s);
  if (m && !/\d/.test(m[2]!) && !/(?:^|[\s,])(?:and|or)\s*$/.test(m[1]!)) return m[1]!;
  return s;
}

function stripTrailingUnitWords(s: string): string {
  // `64 square feet`, `125 miles`, `28 percent`: plain words after a value that are all unit words.
  // Scanned from the end by hand: an end-anchored regex over "a a a a …" backtracks quadratically.
  let t = s.replace(/\s*\^\s*\{?\s*[23]\s*\}?$/, '');
  let i = t.length;
  while (i > 0 && /[A-Za-z .]/.test(t[i - 1]!) && t.length - i < 80) i--;
  const tail = t.slice(i);
  const head = t.slice(0, i).trimEnd();
  if (i === 0 || t.length - i >= 80 || !/^[\s.]*\s[A-Za-z]|^[A-Za-z]/.test(tail)) return s;
  // The boundary must fall between the value and the words: "10 cm" splits at the space.
  const words = tail.split(/[\s.]+/).filter(Boolean);
  t = head;
  if (words.length > 0 && words.every((w) => UNIT_WORDS.has(w.toLowerCase())) && /[\d}).]$/.test(t)) return t;
  return s;
}

/**
 * Normalises an extracted answer. Keeps single spaces (they separate command names from letters, `\sin b`);
 * callers that compare strings remove them.
 */
export function normalizeAnswer(input: string): string {
  let s = fixDoubleEscapes(input);
  s = s.replace(/[\t\n\r\f\v]+/g, ' ');
  s = s.replace(/\\(?:displaystyle|textstyle|limits)\b/g, '');
  // Delimiters around an extracted answer.
  s = s.replace(/\\\(|\\\)|\\\[|\\\]/g, ' ');
  s = s.trim();
  // Sizing commands: \left( → (, \left. → nothing, \bigl[ → [.
  s = s.replace(/\\(?:left|right|bigl|bigr|Bigl|Bigr|biggl|biggr|Biggl|Biggr|big|Big|bigg|Bigg)(?![A-Za-z])\s*\.?/g, '');
  s = s.replace(/\\[dtc]frac(?![A-Za-z])/g, '\\frac');
  // Thousands separators that are unambiguous in LaTeX: 14{,}916 and 12,\!000.
  s = s.replace(/(\d)\s*\{\s*,\s*\}\s*(?=\d)/g, '$1');
  s = s.replace(/(\d),\s*\\!\s*(?=\d)/g, '$1');
  s = s.replace(/(?<!\\)\\!/g, '');
  s = s.replace(/(?<!\\)\\[,;:> ]|~/g, ' ');
  // Degrees carry no value in these answers (90^\circ is 90). Percent is kept as a bare `%` for the
  // comparison, which reads 28% both as 28 and as 0.28 (equivalence.ts).
  s = s.replace(/\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|°|\\degree(?![A-Za-z])/g, '');
  s = s.replace(/\\%/g, '%').replace(/\s*%/g, '%');
  s = s.replace(/\\\$|\$|€|£|¥/g, '');
  // Trailing remarks and units.
  for (let k = 0; k < 3; k++) {
    const before = s;
    s = stripTrailingTextUnit(s.trim());
    s = stripTrailingUnitWords(s.trim());
    s = s.replace(/(?:\\+|[.,;:!])+\s*$/, '').trim(); // trailing full stop, comma, stray `\` or `\\`
    if (s === before) break;
  }
  // List connectors, written as text or as words.
  s = s.replace(/\\q?quad(?![A-Za-z])/g, ' , ');
  s = s.replace(/\\(?:text|textnormal|textrm|mbox)\s*\{\s*(?:and|or|,)\s*\}/g, ' , ');
  s = replaceCommandArg(s, 'text', (x) => ` ${x} `);
  for (const cmd of TEXT_COMMANDS) s = replaceCommandArg(s, cmd, (x) => ` ${x} `);
  s = s.replace(CONNECTOR_RE, ' , ');
  // Relations in one spelling each.
  s = s.replace(/\\(?:leq?|leqslant)(?![A-Za-z])|<=|=</g, '≤');
  s = s.replace(/\\(?:geq?|geqslant)(?![A-Za-z])|>=|=>/g, '≥');
  s = s.replace(/\\(?:neq?)(?![A-Za-z])|!=/g, '≠');
  s = s.replace(/\\lt(?![A-Za-z])/g, '<').replace(/\\gt(?![A-Za-z])/g, '>');
  s = s.replace(/\\approx(?![A-Za-z])|\\simeq(?![A-Za-z])/g, '≈');
  s = s.replace(/\\infty(?![A-Za-z])|(?<![A-Za-z])(?:infinity|inf)(?![A-Za-z])/g, '∞');
  s = s.replace(/\\(?:cdot|times|ast)(?![A-Za-z])/g, '*');
  s = s.replace(/\\div(?![A-Za-z])/g, '/');
  s = s.replace(/\\(?:langle)(?![A-Za-z])/g, '(').replace(/\\(?:rangle)(?![A-Za-z])/g, ')');
  // Set braces get private characters so they cannot be confused with TeX grouping braces.
  s = s.replace(/\\\{/g, '⟦').replace(/\\\}/g, '⟧');
  // `x \in S` answers S (methods.md §1.4); also "x ∈".
  s = s.replace(/^\s*[A-Za-z](?:_\{?\w+\}?)?\s*(?:\\in|∈)(?![A-Za-z])\s*/, '');
  s = s.replace(/\s+/g, ' ').trim();
  s = s.replace(/^\*+\s*|\s*\*+$/g, ''); // markdown emphasis around an answer: **18**
  s = s.replace(/(?:\\\\|[.,;:!])+\s*$/, '').trim();
  s = s.replace(/^(?:[,;]\s*)+/, '');
  // Leading decimal point: .5 → 0.5.
  s = s.replace(/(^|[^\d.])\.(\d)/g, '$10.$2');
  // A whole-answer number with thousands separators (commas or single spaces): 7,425,000 and 1 000.
  if (/^[+-]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/,/g, '');
  if (/^[+-]?[1-9]\d{0,2}(?: \d{3})+(?:\.\d+)?$/.test(s)) s = s.replace(/ /g, '');
  // Multiple-choice letters: (C) → C.
  const choice = /^\(\s*([A-Z])\s*\)$/.exec(s);
  if (choice) s = choice[1]!;
  return s;
}

/** The compact form used for exact string comparison: normalised, then without any whitespace. */
export function compactAnswer(s: string): string {
  return normalizeAnswer(s).replace(/\s+/g, '');
}
