import { z } from 'zod';

/** Paths the server answers itself; a UI mounted on or under one would shadow it or be shadowed. */
const RESERVED = ['/v2', '/healthz', '/readyz', '/auth'];

/**
 * `ui:` — the web UI's static files (docs/ui.md). Served outside /v2 so that loading them needs no
 * registry auth: the UI's data calls go to /v2 and carry the user's credentials.
 */
export const uiSchema = z
  .object({
    enabled: z.boolean().default(true),
    /** Where the UI is served: one or more path segments, no trailing slash. */
    path: z
      .string()
      .regex(/^(\/[A-Za-z0-9._~-]+)+$/, 'must be a path such as /ui: segments of letters, digits, ".", "_", "~" or "-", no trailing slash')
      .refine((p) => !p.split('/').includes('..') && !p.split('/').includes('.'), 'must not contain "." or ".." segments')
      .refine((p) => !RESERVED.some((r) => p === r || p.startsWith(`${r}/`)), `must not be or be under ${RESERVED.join(', ')}: the registry answers there`)
      .default('/ui'),
  })
  .strict()
  .default({});

export type UiConfig = z.output<typeof uiSchema>;
