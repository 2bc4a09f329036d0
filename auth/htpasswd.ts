import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcrypt';
import { LRUCache } from 'lru-cache';
import { AuthSetupError } from './types';

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/** The costs node's bcrypt computes; a hash outside them can never match. */
const MIN_COST = 4;
const MAX_COST = 31;
const HTPASSWD_KEY = 'auth.htpasswd.path';
/** Verified credentials are remembered this long, so Basic mode does not pay bcrypt on every request. */
const CACHE_MS = 60_000;
/** Users whose recent success is remembered; the least recently verified are forgotten first. */
const CACHE_USERS = 10_000;

export interface HtpasswdEntry {
  hash: string;
}

/** An entry Berth cannot check, and why: its format as `htpasswd` names it (`-B` makes bcrypt). */
export interface SkippedEntry {
  user: string;
  format: string;
}

/**
 * The format of a hash that is not usable bcrypt, named as in Apache's htpasswd(1): what it writes
 * without `-B` (MD5 `$apr1$` by default, `-s` SHA-1, `-d` crypt, `-p` plain text), glibc's crypt
 * schemes that other tools write, and bcrypt at a cost node's bcrypt cannot compute.
 */
export function hashFormat(hash: string): string {
  if (/^\$2[aby]\$\d\d\$/.test(hash)) return BCRYPT.test(hash) ? 'bcrypt with a cost outside 4-31' : 'malformed bcrypt';
  if (hash.startsWith('$apr1$')) return 'MD5 ($apr1$, htpasswd -m, its default)';
  if (hash.startsWith('{SHA}')) return 'SHA-1 ({SHA}, htpasswd -s)';
  if (hash.startsWith('$1$')) return 'MD5-crypt ($1$)';
  if (hash.startsWith('$5$')) return 'SHA-256-crypt ($5$, htpasswd -2)';
  if (hash.startsWith('$6$')) return 'SHA-512-crypt ($6$, htpasswd -5)';
  const scheme = /^\$([a-z0-9-]+)\$/.exec(hash);
  if (scheme) return `crypt scheme $${scheme[1]}$`;
  if (/^[./A-Za-z0-9]{13}$/.test(hash)) return 'crypt (DES, htpasswd -d) or plain text';
  if (hash === '') return 'empty';
  return 'plain text or unknown (htpasswd -p)';
}

/** Parses htpasswd text; only bcrypt entries are accepted (Distribution does the same). */
export function parseHtpasswd(text: string): { users: Map<string, string>; rejected: number; skipped: SkippedEntry[] } {
  const users = new Map<string, string>();
  const skipped: SkippedEntry[] = [];
  let rejected = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    const user = line.slice(0, i);
    const hash = line.slice(i + 1);
    const cost = costOf(hash);
    if (i <= 0 || cost === undefined || cost < MIN_COST || cost > MAX_COST) {
      rejected++;
      skipped.push(i <= 0 ? { user: '', format: 'no user:hash line' } : { user, format: hashFormat(hash) });
      continue;
    }
    users.set(user, hash);
  }
  return { users, rejected, skipped };
}

function costOf(hash: string): number | undefined {
  const m = BCRYPT.exec(hash);
  return m ? Number(m[1]) : undefined;
}

/** $2y$ (PHP, Apache) and $2b$ are the same algorithm; node's bcrypt knows only $2a$/$2b$. */
function normalise(hash: string): string {
  return hash.startsWith('$2y$') ? '$2b$' + hash.slice(4) : hash;
}

interface Loaded {
  users: Map<string, string>;
  /** The file's highest cost: every check does the work of one comparison at it. */
  maxCost: number;
  /** A hash of a random password at every cost from the file's lowest to its highest. */
  dummies: Map<number, string>;
}

/**
 * An htpasswd file of bcrypt hashes, re-read when its size, mtime or inode changes. Every check does
 * the work of one comparison at the file's highest cost, whoever the user (known at any cost, or
 * unknown), so response times do not tell user names apart.
 */
export class Htpasswd {
  private loaded: Promise<Loaded> | undefined;
  private version = '';
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new LRUCache<string, { mac: Buffer; hash: string }>({ max: CACHE_USERS, ttl: CACHE_MS });

  constructor(
    readonly path: string,
    private readonly onReload: (info: { users: number; rejected: number; skipped: SkippedEntry[] }) => void = () => {},
  ) {}

  private async current(): Promise<Loaded> {
    let st;
    try {
      st = await stat(this.path);
    } catch (err) {
      throw this.unreadable(err);
    }
    const version = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.loaded === undefined || version !== this.version) {
      this.version = version;
      this.loaded = this.load();
      this.loaded.catch(() => {
        this.version = '';
      });
    }
    return this.loaded;
  }

  /** Named by its configuration key: the one thing an operator must know to fix it. */
  private unreadable(err: unknown): AuthSetupError {
    return new AuthSetupError(HTPASSWD_KEY, `cannot read the htpasswd file: ${(err as Error).message}`, { cause: err });
  }

  private async load(): Promise<Loaded> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      throw this.unreadable(err);
    }
    const { users, rejected, skipped } = parseHtpasswd(text);
    const costs = [...users.values()].map((h) => costOf(h)!);
    const maxCost = costs.length > 0 ? Math.max(...costs) : 10;
    const minCost = costs.length > 0 ? Math.min(...costs) : 10;
    const dummies = new Map<number, string>();
    for (let cost = minCost; cost <= maxCost; cost++) dummies.set(cost, await bcrypt.hash(randomBytes(16).toString('hex'), cost));
    this.cache.clear();
    this.onReload({ users: users.size, rejected, skipped });
    return { users, maxCost, dummies };
  }

  async has(user: string): Promise<boolean> {
    return (await this.current()).users.has(user);
  }

  /**
   * True when `user` exists and `password` matches. Unless a recent success is remembered, costs the
   * work of one bcrypt comparison at the file's highest cost: an unknown user is compared with the
   * dummy at that cost; a user whose hash has a lower cost c is then also compared with the dummies
   * at c, c+1, … highest−1, since 2^c + (2^c + … + 2^(highest−1)) = 2^highest. The comparisons run
   * one after another: in parallel, a cheap user would finish with the longest of them, early.
   */
  async verify(user: string, password: string): Promise<boolean> {
    const { users, maxCost, dummies } = await this.current();
    const hash = users.get(user);
    const mac = createHmac('sha256', this.cacheKey).update(user).update('\0').update(password).digest();
    const cached = this.cache.get(user);
    if (hash !== undefined && cached && cached.hash === hash && timingSafeEqual(cached.mac, mac)) return true;
    const ok = await bcrypt.compare(password, normalise(hash ?? dummies.get(maxCost)!));
    for (let cost = hash === undefined ? maxCost : costOf(hash)!; cost < maxCost; cost++) await bcrypt.compare(password, dummies.get(cost)!);
    if (!ok || hash === undefined) return false;
    this.cache.set(user, { mac, hash });
    return true;
  }
}
