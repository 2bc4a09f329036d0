import { z } from 'zod';
import { duration } from './duration';

/** What a repository's pushes do about secrets found in their images (docs/architecture.md, "Image insight"). */
export const SECRET_MODES = ['off', 'warn', 'deny'] as const;
export type SecretMode = (typeof SECRET_MODES)[number];

/**
 * One repository glob's rule, in the access-control style: `*` stays within one path component,
 * `**` crosses them, and the longest matching glob decides.
 */
const repositoryRule = z
  .object({
    /**
     * off: secrets are neither reported nor refused. warn: reported (API, logs, metrics, events).
     * deny: also refused: a manifest PUT whose image holds a finding not allowed answers DENIED.
     */
    secrets: z.enum(SECRET_MODES).default('warn'),
    allow: z
      .object({
        /** Findings in files matching these globs (the same glob syntax, over a layer's paths) are dropped. */
        paths: z.array(z.string().min(1)).default([]),
        /** Findings of these rules (`aws-access-key-id`, `dotenv-file`, …) are dropped. */
        rules: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
  })
  .strict();

export const insightSchema = z
  .object({
    /** Analyse every layer pushed, off the request path. Off: no analysis, no insight API answers but 404s. */
    enabled: z.boolean().default(true),
    /**
     * child: the background analysis runs in a child process under SCHED_IDLE (nice 19 without
     * chrt), so that it takes only CPU time requests leave idle; the server analyses only what a
     * push waits for (deny). inline: all of it runs in the server process, paced while requests run.
     */
    runner: z.enum(['child', 'inline']).default('child'),
    /**
     * child: how many analysis children (each a process of about 70 MiB that keeps some 1.3 cores
     * busy while the machine has them idle).
     */
    processes: z.number().int().positive().max(64).default(1),
    /** Layers one process analyses at once (in a group of workers, only the first one analyses). */
    concurrency: z.number().int().positive().max(64).default(1),
    /** How often the analyser looks in storage for layers queued by other processes or left by a crash. */
    pollinterval: duration.default('2s'),
    /** Bytes of each text file searched for secrets; 0 turns the search of layer files off. */
    secretheadbytes: z.number().int().nonnegative().default(64 * 1024),
    /** Under `deny`, how long a manifest PUT waits for its layers' analysis. */
    wait: duration.default('60s'),
    /**
     * Under `deny`, when the analysis is not finished within `wait`: refuse the push (DENIED, saying
     * so; the client may push again) or accept it and log a warning (the findings come later).
     */
    ontimeout: z.enum(['refuse', 'accept']).default('refuse'),
    /** Repository glob → rule; repositories no glob matches get `secrets: warn`. */
    repositories: z.record(z.string().min(1), repositoryRule).default({}),
  })
  .strict()
  .default({});

export type InsightConfig = z.output<typeof insightSchema>;
export type InsightRepositoryRule = z.output<typeof repositoryRule>;
