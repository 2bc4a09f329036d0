import type { Logger } from 'pino';

/**
 * Says in the log why /readyz answers 503, which the answer itself must not (probes are often
 * reachable from outside). A probe every few seconds must not become a line every few seconds: the
 * first failure is logged, then a new cause at once, the same cause at most once per `intervalMs`
 * (with how many checks failed meanwhile), and one line when the registry is ready again.
 */
export class ReadinessLog {
  private failing: { cause: string; since: number; logged: number; failures: number } | undefined;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `diagnose`, when given, runs only for a line that is logged (so at most once per interval), and
   * adds what it finds: a further request that names an error the failed one could not.
   */
  unready(cause: string, details: Record<string, unknown> = {}, diagnose?: () => Promise<Diagnosis | undefined>): void {
    const t = this.now();
    const f = this.failing;
    if (f && f.cause === cause && t - f.logged < this.intervalMs) {
      f.failures++;
      return;
    }
    const failures = (f?.failures ?? 0) + 1;
    const since = f?.since ?? t;
    this.failing = { cause, since, logged: t, failures };
    const fields = { ...details, ...(f && { unreadyMs: t - since, failedChecks: failures }), reason: cause };
    if (!diagnose) return this.logger.warn(fields, `not ready: ${cause}`);
    void diagnose()
      .catch(() => undefined)
      .then((d) => this.logger.warn({ ...fields, ...d?.fields }, `not ready: ${cause}${d ? `: ${d.summary}` : ''}`));
  }

  ready(): void {
    const f = this.failing;
    if (!f) return;
    this.failing = undefined;
    this.logger.info({ unreadyMs: this.now() - f.since, failedChecks: f.failures, reason: f.cause }, 'ready again');
  }
}

export interface Diagnosis {
  summary: string;
  fields: Record<string, unknown>;
}

/** The fields of an SDK or system error, for ReadinessLog.unready. */
interface ErrorFields {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  Code?: unknown;
  $metadata?: { httpStatusCode?: unknown; requestId?: unknown };
  cause?: unknown;
}

/**
 * What a storage error says, down its `cause` chain, without the rest of it: an S3 error also
 * carries the request it answered (signing strings with the access key id, headers), which has no
 * place in a log. Names, codes, messages and the HTTP status say what is wrong.
 */
/**
 * Whether the error names nothing: the SDK's answer to an error status without a body (any HEAD),
 * "Unknown"/"UnknownError". An S3 HEAD refused for bad credentials says no more than 403.
 */
export function isUnnamed(err: unknown): boolean {
  const e = err as ErrorFields | undefined;
  return e?.name === 'Unknown' || e?.name === 'UnknownError' || e?.message === 'UnknownError';
}

/** `summary`: the error's code or name (ECONNREFUSED, InvalidAccessKeyId); `fields`: the details for the log line. */
export function describeStorageError(err: unknown): Diagnosis {
  const chain: Array<Record<string, unknown>> = [];
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as ErrorFields).cause, depth++) {
    const f = e as ErrorFields;
    const entry: Record<string, unknown> = {};
    if (typeof f.name === 'string') entry.name = f.name;
    const code = typeof f.code === 'string' ? f.code : typeof f.Code === 'string' ? f.Code : undefined;
    if (code !== undefined && code !== entry.name) entry.code = code;
    if (typeof f.message === 'string' && f.message !== '') entry.message = f.message;
    if (f.$metadata && typeof f.$metadata.httpStatusCode === 'number') entry.status = f.$metadata.httpStatusCode;
    chain.push(entry);
  }
  if (chain.length === 0) return { summary: String(err), fields: {} };
  const [first, ...causes] = chain;
  // The innermost code names the trouble best (a driver error wrapping ECONNREFUSED).
  const named = [...chain].reverse().find((e) => e.code !== undefined || (e.name !== undefined && e.name !== 'Error'));
  // The summary keys the rate limit, so it holds no message (which may carry request ids).
  const summary = isUnnamed(err) && typeof first.status === 'number' ? `HTTP ${first.status}` : named ? String(named.code ?? named.name) : 'unknown error';
  return { summary, fields: { error: first, ...(causes.length > 0 && { causes }) } };
}
