/**
 * A small recursive-descent parser for the expressions that appear as math answers: numbers, variables,
 * + − · / ^, implicit multiplication, \frac, \sqrt[n]{}, |x|, !, ±, trig/log functions, π, e, i.
 * It builds an AST and never evaluates anything while parsing (no eval/Function anywhere in the grader).
 * Anything it does not understand is a ParseError, and the caller falls back to string comparison.
 */
import { Budget } from './budget.js';
import { ParseError, type Node } from './ast.js';
import { parseDecimal } from './rational.js';

export { ParseError, type Node } from './ast.js';
export { expandPm, freeSymbols, hasApprox } from './ast.js';

/** Longest expression text we try to parse; longer answers are compared as strings. */
export const MAX_EXPR_CHARS = 2000;
const MAX_DEPTH = 100;

const FUNCTIONS = new Set([
  'sin', 'cos', 'tan', 'sec', 'csc', 'cot', 'arcsin', 'arccos', 'arctan', 'sinh', 'cosh', 'tanh', 'ln', 'log', 'exp',
]);
const GREEK = new Set(
  'alpha beta gamma delta epsilon varepsilon zeta eta theta vartheta iota kappa lambda mu nu xi rho sigma tau upsilon phi varphi chi psi omega Gamma Delta Theta Lambda Xi Sigma Phi Psi Omega'.split(
    ' ',
  ),
);

class Parser {
  private pos = 0;
  private depth = 0;
  private absDepth = 0;
  constructor(
    private readonly s: string,
    private readonly budget: Budget,
  ) {}

  parseAll(): Node {
    const n = this.expr();
    this.ws();
    if (this.pos < this.s.length) throw new ParseError(`unexpected '${this.s[this.pos]}' at ${this.pos}`);
    return n;
  }

  private ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos]!)) this.pos++;
  }
  private peek(): string {
    this.ws();
    return this.s[this.pos] ?? '';
  }
  private peekCommand(): string | null {
    this.ws();
    if (this.s[this.pos] !== '\\') return null;
    const m = /^\\([A-Za-z]+)/.exec(this.s.slice(this.pos, this.pos + 40));
    return m ? m[1]! : null;
  }
  private enter(): void {
    this.budget.tick();
    if (++this.depth > MAX_DEPTH) throw new ParseError('nesting too deep');
  }

  private expr(): Node {
    this.enter();
    const terms: Node[] = [this.term()];
    let pm: Node | null = null;
    for (;;) {
      const c = this.peek();
      const cmd = this.peekCommand();
      if (c === '+') {
        this.pos++;
        terms.push(this.term());
      } else if (c === '-' || c === '−') {
        this.pos++;
        terms.push({ t: 'neg', a: this.term() });
      } else if (cmd === 'pm' || cmd === 'mp' || c === '±') {
        // a ± b: everything after ± up to the next ± or the end is the ± part (1 \pm \sqrt{19}).
        this.pos += c === '±' ? 1 : cmd!.length + 1;
        const rest = this.expr();
        const left: Node = terms.length === 1 ? terms[0]! : { t: 'add', terms: terms.splice(0) };
        const b: Node = cmd === 'mp' ? { t: 'neg', a: rest } : rest;
        pm = { t: 'pm', a: left, b };
        break;
      } else break;
    }
    this.depth--;
    if (pm) return pm;
    return terms.length === 1 ? terms[0]! : { t: 'add', terms };
  }

  private term(): Node {
    this.enter();
    const factors: Node[] = [this.unary()];
    for (;;) {
      const c = this.peek();
      if (c === '*') {
        this.pos++;
        factors.push(this.unary());
      } else if (c === '/') {
        this.pos++;
        const den = this.unary();
        const num: Node = factors.length === 1 ? factors[0]! : { t: 'mul', factors: factors.splice(0) };
        factors.length = 0;
        factors.push({ t: 'div', num, den });
      } else if (this.startsPrimary()) {
        factors.push(this.power());
      } else break;
    }
    this.depth--;
    return factors.length === 1 ? factors[0]! : { t: 'mul', factors };
  }

  private unary(): Node {
    const c = this.peek();
    const cmd = this.peekCommand();
    if (c === '±' || cmd === 'pm' || cmd === 'mp') {
      // A leading ±: "±2021" is the pair {2021, −2021}.
      this.pos += c === '±' ? 1 : cmd!.length + 1;
      return { t: 'pm', a: { t: 'num', v: parseDecimal('0')!, approx: false }, b: this.term() };
    }
    if (c === '-' || c === '−') {
      this.pos++;
      return { t: 'neg', a: this.unary() };
    }
    if (c === '+') {
      this.pos++;
      return this.unary();
    }
    return this.power();
  }

  private startsPrimary(): boolean {
    const c = this.peek();
    if (c === '') return false;
    if (/[0-9A-Za-z({.∞π]/.test(c)) return true;
    if (c === '|') return this.absDepth === 0; // inside |…| a bar closes
    if (c === '\\') {
      const cmd = this.peekCommand();
      return cmd !== null && (cmd === 'frac' || cmd === 'sqrt' || cmd === 'pi' || FUNCTIONS.has(cmd) || GREEK.has(cmd));
    }
    return false;
  }

  private power(): Node {
    this.enter();
    let base = this.postfix();
    if (this.peek() === '^') {
      this.pos++;
      const exp = this.exponent();
      base = { t: 'pow', base, exp };
    }
    this.depth--;
    return base;
  }

  /** The exponent after ^: a braced group, or a single digit/letter/command as in TeX (x^23 is x^2·3). */
  private exponent(): Node {
    const c = this.peek();
    if (c === '{') return this.group('}');
    if (c === '-' || c === '+') {
      this.pos++;
      const e = this.exponent();
      return c === '-' ? { t: 'neg', a: e } : e;
    }
    if (c === '(') return this.postfix();
    if (/\d/.test(c)) {
      this.pos++;
      return { t: 'num', v: parseDecimal(c)!, approx: false };
    }
    return this.primary();
  }

  private postfix(): Node {
    let n = this.primary();
    while (this.peek() === '!') {
      this.pos++;
      n = { t: 'fact', a: n };
    }
    return n;
  }

  /** A bracketed sub-expression; the caller has seen the opening bracket at the current position. */
  private group(close: string): Node {
    this.pos++; // the opening bracket
    const n = this.expr();
    if (this.peek() !== close) throw new ParseError(`expected '${close}'`);
    this.pos++;
    return n;
  }

  /** A TeX macro argument: {…}, or one character/command (\frac12, \sqrt3). */
  private macroArg(): Node {
    const c = this.peek();
    if (c === '{') return this.group('}');
    if (/\d/.test(c) || /[A-Za-z]/.test(c)) {
      this.pos++;
      return /\d/.test(c) ? { t: 'num', v: parseDecimal(c)!, approx: false } : this.symbolNode(c);
    }
    if (c === '\\') return this.primary();
    throw new ParseError('missing macro argument');
  }

  private symbolNode(name: string): Node {
    if (name === 'e') return { t: 'const', name: 'e' };
    if (name === 'i') return { t: 'const', name: 'i' };
    return { t: 'sym', name };
  }

  /** Optional subscript and primes after a symbol: x_1, a_{n-1}, f'. */
  private decorate(name: string): string {
    let out = name;
    if (this.s[this.pos] === '_') {
      this.pos++;
      if (this.s[this.pos] === '{') {
        const start = this.pos;
        let depth = 0;
        for (; this.pos < this.s.length; this.pos++) {
          if (this.s[this.pos] === '{') depth++;
          else if (this.s[this.pos] === '}' && --depth === 0) break;
        }
        if (this.pos >= this.s.length) throw new ParseError('unclosed subscript');
        this.pos++;
        out += '_' + this.s.slice(start + 1, this.pos - 1).replace(/\s+/g, '');
      } else if (/[A-Za-z0-9]/.test(this.s[this.pos] ?? '')) {
        out += '_' + this.s[this.pos++];
      } else throw new ParseError('bad subscript');
    }
    while (this.s[this.pos] === "'") {
      out += "'";
      this.pos++;
    }
    return out;
  }

  private primary(): Node {
    this.enter();
    const c = this.peek();
    let n: Node;
    if (c === '(') n = this.group(')');
    else if (c === '{') n = this.group('}');
    else if (c === '|') {
      this.pos++;
      this.absDepth++;
      const a = this.expr();
      this.absDepth--;
      if (this.peek() !== '|') throw new ParseError("expected '|'");
      this.pos++;
      n = { t: 'abs', a };
    } else if (c === '∞') {
      this.pos++;
      n = { t: 'const', name: 'inf' };
    } else if (c === 'π') {
      this.pos++;
      n = { t: 'const', name: 'pi' };
    } else if (/[\d.]/.test(c)) n = this.number();
    else if (/[A-Za-z]/.test(c)) n = this.word();
    else if (c === '\\') n = this.command();
    else throw new ParseError(c === '' ? 'unexpected end' : `unexpected '${c}'`);
    this.depth--;
    return n;
  }

  private number(): Node {
    const rest = this.s.slice(this.pos, this.pos + 400);
    // Scientific notation only in its unambiguous computer form (1.5e-3, 2E10); "2e" alone is 2·e.
    const m = /^(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+)(?![A-Za-z]))?/.exec(rest);
    if (!m) throw new ParseError('bad number');
    this.pos += m[0].length;
    // A number with a base subscript (204_5) is an opaque literal: compared by its digits and base only.
    if (this.s[this.pos] === '_' && m[2] === undefined) {
      const name = this.decorate(m[0]);
      return { t: 'sym', name: `#${name}` };
    }
    const v = parseDecimal(m[0]);
    if (!v) throw new ParseError('bad number');
    const approx = m[0].includes('.') || m[2] !== undefined;
    // Mixed number: 918\frac{1}{2} is 918 + 1/2 (an integer immediately followed by a numeric \frac).
    if (!approx && /^\s*\\frac\s*(?:\{\s*\d+\s*\}|\d)\s*(?:\{\s*\d+\s*\}|\d)/.test(this.s.slice(this.pos, this.pos + 60))) {
      const frac = this.command();
      return { t: 'add', terms: [{ t: 'num', v, approx }, frac] };
    }
    return { t: 'num', v, approx };
  }

  private word(): Node {
    const m = /^[A-Za-z]+/.exec(this.s.slice(this.pos, this.pos + 200))!;
    const run = m[0];
    if (FUNCTIONS.has(run)) {
      this.pos += run.length;
      return this.applyFunction(run);
    }
    if (run === 'pi') {
      this.pos += 2;
      return { t: 'const', name: 'pi' };
    }
    if (run === 'sqrt') {
      this.pos += 4;
      return { t: 'root', a: this.power(), k: { t: 'num', v: parseDecimal('2')!, approx: false } };
    }
    if (run.length >= 4) {
      // A word ("Evelyn", "even"): one opaque symbol, so it only equals the same word.
      this.pos += run.length;
      return { t: 'sym', name: this.decorate(run) };
    }
    // Short runs are products of one-letter variables (xy = x·y); subscripts bind to the last letter.
    this.pos += 1;
    return this.symbolNodeDecorated(run[0]!);
  }

  private symbolNodeDecorated(letter: string): Node {
    const name = this.decorate(letter);
    return name === letter ? this.symbolNode(letter) : { t: 'sym', name };
  }

  private applyFunction(name: string): Node {
    // \sin^2 x means (sin x)^2; \sin^{-1} is arcsin.
    let power: Node | null = null;
    if (this.peek() === '^') {
      this.pos++;
      power = this.exponent();
    }
    const arg = this.peek() === '(' ? this.group(')') : this.bareArgument();
    let fnName = name === 'log' ? 'ln' : name; // log without base: natural log (ratios of logs are unaffected)
    if (power && power.t === 'neg' && power.a.t === 'num' && power.a.v.n === 1n && power.a.v.d === 1n) {
      fnName = `arc${fnName}`;
      power = null;
    }
    const f: Node = { t: 'fn', name: fnName, a: arg };
    return power ? { t: 'pow', base: f, exp: power } : f;
  }

  /**
   * The argument of a function written without parentheses: the implicit product that follows, up to the next
   * operator or function (\sin 2x is sin(2x); 2\sin b \cos a is 2·sin(b)·cos(a)).
   */
  private bareArgument(): Node {
    const factors: Node[] = [this.power()];
    for (;;) {
      const cmd = this.peekCommand();
      if (cmd !== null && FUNCTIONS.has(cmd)) break;
      const m = /^[A-Za-z]+/.exec(this.s.slice(this.pos, this.pos + 20));
      if (m && FUNCTIONS.has(m[0])) break;
      if (!this.startsPrimary() || this.peek() === '(') break;
      factors.push(this.power());
    }
    return factors.length === 1 ? factors[0]! : { t: 'mul', factors };
  }

  private command(): Node {
    const cmd = this.peekCommand();
    if (cmd === null) throw new ParseError('bad command');
    this.pos += cmd.length + 1;
    if (cmd === 'frac') {
      const num = this.macroArg();
      const den = this.macroArg();
      return { t: 'div', num, den };
    }
    if (cmd === 'sqrt') {
      let k: Node = { t: 'num', v: parseDecimal('2')!, approx: false };
      if (this.peek() === '[') {
        this.pos++;
        k = this.expr();
        if (this.peek() !== ']') throw new ParseError("expected ']'");
        this.pos++;
      }
      return { t: 'root', a: this.macroArg(), k };
    }
    if (cmd === 'pi') return { t: 'const', name: 'pi' };
    if (FUNCTIONS.has(cmd)) return this.applyFunction(cmd);
    if (GREEK.has(cmd)) return { t: 'sym', name: this.decorate(`\\${cmd}`) };
    throw new ParseError(`unsupported command \\${cmd}`);
  }
}

/** Parses one expression; throws ParseError (or BudgetExceeded) on anything it cannot read. */
export function parseExpression(s: string, budget: Budget): Node {
  if (s.length > MAX_EXPR_CHARS) throw new ParseError('expression too long');
  if (s.trim() === '') throw new ParseError('empty expression');
  return new Parser(s, budget).parseAll();
}
