import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import bcrypt from 'bcrypt';

const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
/** Verified credentials are remembered this long, so Basic mode does not pay bcrypt on every request. */
const CACHE_MS = 60_000;

export interface HtpasswdEntry {
  hash: string;
}

/** Parses htpasswd text; only bcrypt entries are accepted (Distribution does the same). */
export function parseHtpasswd(text: string): { users: Map<string, string>; rejected: number } {
  const users = new Map<string, string>();
  let rejected = 0;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const i = line.indexOf(':');
    const user = line.slice(0, i);
    const hash = line.slice(i + 1);
    if (i <= 0 || !BCRYPT.test(hash)) {
      rejected++;
      continue;
    }
    users.set(user, hash);
  }
  return { users, rejected };
}

/** $2y$ (PHP, Apache) and $2b$ are the same algorithm; node's bcrypt knows only $2a$/$2b$. */
function normalise(hash: string): string {
  return hash.startsWith('$2y$') ? '$2b$' + hash.slice(4) : hash;
}

interface Loaded {
  users: Map<string, string>;
  dummy: string;
  version: string;
}

/**
 * An htpasswd file of bcrypt hashes, re-read when its size, mtime or inode changes. Unknown users
 * are checked against a dummy hash of the same cost, so they take as long as known ones.
 */
export class Htpasswd {
  private loaded: Promise<Loaded> | undefined;
  private version = '';
  private readonly cacheKey = randomBytes(32);
  private readonly cache = new Map<string, { mac: Buffer; hash: string; until: number }>();

  constructor(
    readonly path: string,
    private readonly onReload: (info: { users: number; rejected: number }) => void = () => {},
  ) {}

  private async current(): Promise<Loaded> {
    const st = await stat(this.path);
    const version = `${st.ino}:${st.size}:${st.mtimeMs}`;
    if (this.loaded === undefined || version !== this.version) {
      this.version = version;
      this.loaded = this.load(version);
      this.loaded.catch(() => {
        this.version = '';
      });
    }
    return this.loaded;
  }

  private async load(version: string): Promise<Loaded> {
    const { users, rejected } = parseHtpasswd(await readFile(this.path, 'utf8'));
    const costs = [...users.values()].map((h) => Number(BCRYPT.exec(h)![1]));
    const cost = costs.length > 0 ? Math.max(...costs) : 10;
    const dummy = await bcrypt.hash(randomBytes(16).toString('hex'), cost);
    this.cache.clear();
    this.onReload({ users: users.size, rejected });
    return { users, dummy, version };
  }

  async has(user: string): Promise<boolean> {
    return (await this.current()).users.has(user);
  }

  /** True when `user` exists and `password` matches. Always costs one bcrypt comparison on a miss. */
  async verify(user: string, password: string): Promise<boolean> {
    const { users, dummy } = await this.current();
    const hash = users.get(user);
    const mac = createHmac('sha256', this.cacheKey).update(user).update('\0').update(password).digest();
    const cached = this.cache.get(user);
    if (hash !== undefined && cached && cached.hash === hash && cached.until > Date.now() && timingSafeEqual(cached.mac, mac)) return true;
    const ok = await bcrypt.compare(password, normalise(hash ?? dummy));
    if (!ok || hash === undefined) return false;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(user, { mac, hash, until: Date.now() + CACHE_MS });
    return true;
  }
}
