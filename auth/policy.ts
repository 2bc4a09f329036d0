import { ACTIONS, type Access, type Action } from './types';

export interface PolicyRule {
  users: string[];
  groups: string[];
  actions: Action[];
}

export interface RepositoryRule {
  policies: PolicyRule[];
  defaultpolicy: Action[];
  anonymouspolicy: Action[];
}

/** Shaped like zot's accessControl (keys lower-cased); see src/config/auth-schema.ts. */
export interface PolicyConfig {
  groups: Record<string, { users: string[] }>;
  repositories: Record<string, RepositoryRule>;
  adminpolicy: PolicyRule;
  catalog: { users: string[]; groups: string[] };
}

/** An `accesscontrol` section that grants nothing. */
export const NO_ACCESS: PolicyConfig = { groups: {}, repositories: {}, adminpolicy: { users: [], groups: [], actions: [] }, catalog: { users: [], groups: [] } };

/** Glob over repository names: `*` within one component, `**` across components. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      // `**/` also matches nothing, so `a/**/b` covers `a/b`.
      if (glob[i + 2] === '/') {
        re += '(?:.*/)?';
        i += 2;
      } else {
        re += '.*';
        i += 1;
      }
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The one policy engine: who (user, groups, anonymous) may do what (pull/push/delete) on which
 * repository. Basic mode asks it per request; the token server asks it what to put in a token.
 */
export class Policy {
  private readonly rules: Array<{ glob: string; re: RegExp; rule: RepositoryRule }>;
  private readonly groupsOf = new Map<string, Set<string>>();

  /**
   * `config` null: no `accesscontrol` section, where Distribution and zot let every authenticated
   * user do everything (and anonymous clients nothing).
   */
  constructor(private readonly config: PolicyConfig | null) {
    if (config === null) {
      this.rules = [];
      return;
    }
    // Most specific first: the longest glob that matches decides (zot's rule).
    this.rules = Object.entries(config.repositories)
      .map(([glob, rule]) => ({ glob, re: globToRegExp(glob), rule }))
      .sort((a, b) => b.glob.length - a.glob.length || (a.glob < b.glob ? -1 : 1));
    for (const [group, { users }] of Object.entries(config.groups))
      for (const u of users) {
        const set = this.groupsOf.get(u) ?? new Set<string>();
        set.add(group);
        this.groupsOf.set(u, set);
      }
  }

  private matches(rule: { users: string[]; groups: string[] }, user: string): boolean {
    if (rule.users.includes(user)) return true;
    const groups = this.groupsOf.get(user);
    return groups !== undefined && rule.groups.some((g) => groups.has(g));
  }

  /** The actions `user` (null: anonymous) has on `repository`. */
  actions(user: string | null, repository: string): Set<Action> {
    if (this.config === null) return new Set(user === null ? [] : ACTIONS);
    const out = new Set<Action>();
    if (user !== null && this.matches(this.config.adminpolicy, user)) for (const a of this.config.adminpolicy.actions) out.add(a);
    const found = this.rules.find((r) => r.re.test(repository));
    if (!found) return out;
    for (const a of found.rule.anonymouspolicy) out.add(a);
    if (user === null) return out;
    for (const a of found.rule.defaultpolicy) out.add(a);
    for (const p of found.rule.policies) if (this.matches(p, user)) for (const a of p.actions) out.add(a);
    return out;
  }

  may(user: string | null, repository: string, action: string): boolean {
    return this.actions(user, repository).has(action as Action);
  }

  /** Whether any rule lets clients without credentials do something. */
  grantsAnonymous(): boolean {
    return this.rules.some((r) => r.rule.anonymouspolicy.length > 0);
  }

  mayListCatalog(user: string | null): boolean {
    if (this.config === null) return user !== null;
    return user !== null && (this.matches(this.config.catalog, user) || this.matches(this.config.adminpolicy, user));
  }

  /**
   * What of `requested` the policy lets `user` have: the intersection (asking for more is not an
   * error). Unknown resource types and actions are dropped.
   */
  grantable(user: string | null, requested: readonly Access[]): Access[] {
    const out: Access[] = [];
    for (const r of requested) {
      let actions: string[] = [];
      if (r.type === 'repository') {
        const allowed = this.actions(user, r.name);
        actions = r.actions.includes('*') ? [...allowed] : r.actions.filter((a) => allowed.has(a as Action));
      } else if (r.type === 'registry' && r.name === 'catalog' && r.actions.includes('*') && this.mayListCatalog(user)) actions = ['*'];
      if (actions.length > 0) out.push({ type: r.type, name: r.name, actions });
    }
    return out;
  }
}
