import { baseName, pathComponents } from './entry-path';
import type { EntryType } from './layer-entry';
import { fingerprint, type SecretFinding } from './secret-finding';
import { CONTENT_RULES, PATH_RULES } from './secret-rules';

/** How much of each file is searched unless configured: where keys and tokens sit in practice. */
export const DEFAULT_SECRET_HEAD_BYTES = 64 * 1024;

// As git decides a file is binary: a NUL in its first 8000 bytes.
const BINARY_PROBE_BYTES = 8000;

// A hint that matches only decides that the rules run; each hint spells out its own case.
const ANY_HINT = new RegExp(CONTENT_RULES.map((r) => r.hint).join('|'));

export function isBinary(head: Buffer): boolean {
  return head.subarray(0, BINARY_PROBE_BYTES).includes(0);
}

/** Findings of the content rules in one text (a file's head, a config string), one per secret. */
export function findInText(path: string, text: string): SecretFinding[] {
  const findings = new Map<string, SecretFinding>();
  const add = (rule: string, secret: string): void => {
    const print = fingerprint(rule, secret);
    findings.set(print, { path, rule, fingerprint: print });
  };
  for (const { rule, pattern, requires } of ANY_HINT.test(text) ? CONTENT_RULES : []) {
    if (requires !== undefined && !requires.test(text)) continue;
    for (const match of text.matchAll(pattern)) add(rule, secretOf(rule, match[1]));
  }
  const base = baseName(path);
  for (const { rule, applies, pattern } of PATH_RULES) {
    if (!applies(path, base)) continue;
    for (const match of text.matchAll(pattern)) add(rule, match[1]);
  }
  return [...findings.values()];
}

// A key body spans lines: whitespace is layout, not part of what identifies the key.
function secretOf(rule: string, matched: string): string {
  return rule === 'private-key' ? matched.replace(/\s+/g, '') : matched;
}

/**
 * The secret search of one layer: content rules over each text file's head, and `.git`
 * directories (whose objects and config hold the history and often a token in a remote URL),
 * reported once per layer each. Memory: the set of `.git` directories seen in the layer.
 */
export class LayerSecretScanner {
  private readonly gitDirs = new Set<string>();

  /** Findings for one entry; `head` is the file's first bytes (regular files only). */
  entry(path: string, type: EntryType, head: Buffer | undefined): SecretFinding[] {
    const findings = this.gitDirectory(path, type);
    if (head !== undefined && head.length > 0 && !isBinary(head)) findings.push(...findInText(path, head.toString('utf8')));
    return findings;
  }

  private gitDirectory(path: string, type: EntryType): SecretFinding[] {
    if (!path.includes('.git')) return [];
    const parts = pathComponents(path);
    // A `.git` file (a worktree's `gitdir:` pointer) holds no history; a `.git` directory does,
    // whether the tar lists the directory itself or only files under it.
    const last = type === 'dir' ? parts.length : parts.length - 1;
    const at = parts.slice(0, last).indexOf('.git');
    if (at < 0 || type === 'whiteout' || type === 'opaque') return [];
    const dir = parts.slice(0, at + 1).join('/');
    if (this.gitDirs.has(dir)) return [];
    this.gitDirs.add(dir);
    return [{ path: dir, rule: 'git-directory', fingerprint: fingerprint('git-directory', dir) }];
  }
}
