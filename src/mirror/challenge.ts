/**
 * WWW-Authenticate parsing (RFC 9110 §11.6.1). Upstreams send several challenges in one header or
 * several headers, quote values that contain commas (a Bearer `scope` naming two actions), and
 * differ in case and spacing; a split on commas gets all of that wrong, so this is a small tokenizer.
 */
export interface Challenge {
  /** Lower-case scheme: `bearer`, `basic`, ... */
  scheme: string;
  /** Parameters by lower-case name, values unquoted. */
  params: Record<string, string>;
  /** A token68 instead of parameters (`Negotiate abc==`). */
  token68?: string;
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const TOKEN68_CHAR = /[0-9A-Za-z\-._~+/]/;

class Scanner {
  pos = 0;
  constructor(readonly s: string) {}
  get done(): boolean {
    return this.pos >= this.s.length;
  }
  peek(): string {
    return this.s[this.pos] ?? '';
  }
  skipSpace(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  /** Skips whitespace and any commas (empty list elements are allowed). */
  skipSeparators(): void {
    while (this.peek() === ' ' || this.peek() === '\t' || this.peek() === ',') this.pos++;
  }
  token(): string {
    const start = this.pos;
    while (!this.done && TCHAR.test(this.peek())) this.pos++;
    return this.s.slice(start, this.pos);
  }
  quoted(): string {
    this.pos++; // opening quote
    let out = '';
    while (!this.done && this.peek() !== '"') {
      if (this.peek() === '\\' && this.pos + 1 < this.s.length) this.pos++;
      out += this.s[this.pos++];
    }
    this.pos++; // closing quote (or past the end of an unterminated one)
    return out;
  }
  /** Skips to the next comma at this level (past junk an upstream may send). */
  skipJunk(): void {
    while (!this.done && this.peek() !== ',') {
      if (this.peek() === '"') this.quoted();
      else this.pos++;
    }
  }
}

/** Is the text at the cursor `name =` (a parameter) rather than a new scheme or a token68? */
function atParam(sc: Scanner): boolean {
  const save = sc.pos;
  const name = sc.token();
  sc.skipSpace();
  const isParam = name.length > 0 && sc.peek() === '=' && sc.s[sc.pos + 1] !== '=';
  sc.pos = save;
  // `abc=` followed by the end or a comma is a token68 with padding, not a parameter.
  if (!isParam) return false;
  sc.token();
  sc.skipSpace();
  sc.pos++;
  sc.skipSpace();
  const ends = sc.done || sc.peek() === ',';
  sc.pos = save;
  return !ends;
}

function parseParams(sc: Scanner, challenge: Challenge): void {
  for (;;) {
    sc.skipSeparators();
    if (sc.done || !atParam(sc)) return;
    const name = sc.token().toLowerCase();
    sc.skipSpace();
    sc.pos++; // '='
    sc.skipSpace();
    const value = sc.peek() === '"' ? sc.quoted() : sc.token();
    // The first of a repeated parameter wins; `__proto__` would not be a plain key.
    if (!Object.hasOwn(challenge.params, name) && name !== '__proto__') challenge.params[name] = value;
    sc.skipSpace();
    if (!sc.done && sc.peek() !== ',') sc.skipJunk();
  }
}

/** Every challenge in the given WWW-Authenticate values, in order; junk is skipped, never thrown. */
export function parseChallenges(headers: string | readonly string[] | undefined): Challenge[] {
  const out: Challenge[] = [];
  for (const header of [headers ?? []].flat()) {
    const sc = new Scanner(header);
    for (;;) {
      sc.skipSeparators();
      if (sc.done) break;
      const scheme = sc.token();
      if (scheme.length === 0) {
        sc.pos++;
        sc.skipJunk();
        continue;
      }
      const challenge: Challenge = { scheme: scheme.toLowerCase(), params: {} };
      out.push(challenge);
      sc.skipSpace();
      if (!sc.done && sc.peek() !== ',' && !atParam(sc)) {
        const start = sc.pos;
        while (!sc.done && TOKEN68_CHAR.test(sc.peek())) sc.pos++;
        while (sc.peek() === '=') sc.pos++;
        if (sc.pos > start) challenge.token68 = sc.s.slice(start, sc.pos);
        sc.skipJunk();
        continue;
      }
      parseParams(sc, challenge);
    }
  }
  return out;
}
