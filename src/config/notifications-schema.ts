import { z } from 'zod';
import { duration } from './duration';

/**
 * The actions an event can carry: Distribution's names, and Berth's `gc.delete` (events/gc-events.ts)
 * and `insight.secrets` (insight/push-watch.ts).
 */
export const EVENT_ACTIONS = ['push', 'pull', 'delete', 'mount', 'gc.delete', 'insight.secrets'] as const;
export type EventAction = (typeof EVENT_ACTIONS)[number];

/**
 * One receiver, with Distribution's `notifications.endpoints[]` keys. Distribution retries a failing
 * endpoint every `backoff` forever; Berth starts at `backoff` and doubles up to `maxbackoff`.
 */
const endpoint = z
  .object({
    /** Names the endpoint in logs and in storage (its delivery cursor), so it is a path-safe word. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, ".", "_" and "-", at most 64'),
    url: z
      .string()
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http or https URL'),
    headers: z.record(z.string(), z.array(z.string())).default({}),
    /** Bound of one delivery attempt. */
    timeout: duration.default('1s'),
    /**
     * As Distribution: this many failed attempts in a row are retried at once; from then on the
     * endpoint is failing and each attempt waits (`backoff`, doubling). 0 means the default, as there.
     */
    threshold: z
      .number()
      .int()
      .nonnegative()
      .default(10)
      .transform((n) => (n === 0 ? 10 : n)),
    /** Wait after the first failed attempt; each further failure doubles it. */
    backoff: duration.default('1s'),
    /** Berth: the longest wait between attempts. */
    maxbackoff: duration.default('5m'),
    /**
     * Berth: after this many refusals in a row (4xx answers other than 408/429) of one segment's
     * events, they are set aside (a dead letter, kept in storage) so that later events go through.
     * 0, the default: never; the endpoint waits for them, as in Distribution.
     */
    maxattempts: z.number().int().nonnegative().default(0),
    disabled: z.boolean().default(false),
    /** Distribution's older spelling of ignore.mediatypes. */
    ignoredmediatypes: z.array(z.string()).default([]),
    ignore: z
      .object({
        mediatypes: z.array(z.string()).default([]),
        actions: z.array(z.enum(EVENT_ACTIONS)).default([]),
      })
      .strict()
      .default({}),
  })
  .strict();

/**
 * Berth: the most events kept undelivered, and what happens beyond: `dropoldest` removes the oldest
 * (counted in the log) so that the registry keeps serving; `refuse` fails the requests that would add
 * events (503) until receivers catch up, so that none is lost.
 */
const backlog = z
  .object({
    maxevents: z.number().int().positive().default(1_000_000),
    full: z.enum(['dropoldest', 'refuse']).default('dropoldest'),
  })
  .strict()
  .default({});

/** Distribution's `notifications.events`: what manifest events carry. */
const events = z
  .object({
    /** Manifest push and pull events list the descriptors the manifest references (`target.references`). */
    includereferences: z.boolean().default(false),
  })
  .strict()
  .default({});

export const notificationsSchema = z
  .object({
    events,
    endpoints: z.array(endpoint).default([]),
    backlog,
    /**
     * Berth: with several processes on one store, one delivers to each endpoint at a time; when it
     * stops renewing its lease (a crash, a stall), another takes over after this long.
     */
    takeover: duration.default('60s'),
  })
  .strict()
  .superRefine((n, ctx) => {
    const seen = new Set<string>();
    n.endpoints.forEach((e, i) => {
      if (seen.has(e.name)) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['endpoints', i, 'name'], message: `duplicate endpoint name "${e.name}"` });
      seen.add(e.name);
    });
  })
  .default({});

export type NotificationsConfig = z.output<typeof notificationsSchema>;
export type EndpointConfig = NotificationsConfig['endpoints'][number];
