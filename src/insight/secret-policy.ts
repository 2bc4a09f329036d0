import { globToRegExp } from '../../auth/policy';
import type { InsightConfig, InsightRepositoryRule, SecretMode } from '../config/insight-schema';
import type { SecretFinding } from './secret-finding';

/** What `insight.repositories` says for one repository, compiled. */
export interface RepositorySecretPolicy {
  mode: SecretMode;
  /** Whether the allow-list lets a finding through (it is then neither reported nor refused). */
  allows(finding: SecretFinding): boolean;
}

const DEFAULT_RULE: InsightRepositoryRule = { secrets: 'warn', allow: { paths: [], rules: [] } };

/**
 * `insight.repositories`: the longest matching glob decides, as in access control; repositories
 * no glob matches get `secrets: warn` and no allow-list. Path globs are matched against a finding's
 * path (a layer path such as `app/.env`, or `config.Env[2]`), with the same `*` and `**`.
 */
export class SecretPolicy {
  private readonly rules: Array<{ glob: string; re: RegExp; rule: InsightRepositoryRule }>;

  constructor(repositories: InsightConfig['repositories']) {
    this.rules = Object.entries(repositories)
      .map(([glob, rule]) => ({ glob, re: globToRegExp(glob), rule }))
      .sort((a, b) => b.glob.length - a.glob.length || (a.glob < b.glob ? -1 : 1));
  }

  for(repository: string): RepositorySecretPolicy {
    const rule = this.rules.find((r) => r.re.test(repository))?.rule ?? DEFAULT_RULE;
    const paths = rule.allow.paths.map(globToRegExp);
    const rules = new Set(rule.allow.rules);
    return {
      mode: rule.secrets,
      allows: (finding) => rules.has(finding.rule) || paths.some((re) => re.test(finding.path)),
    };
  }
}
