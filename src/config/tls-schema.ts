import { z } from 'zod';
import { cipherSuiteProblem } from '../tls/cipher-suites';
import { duration } from './duration';

const TLS_VERSIONS = ['tls1.2', 'tls1.3'] as const;

/** Where a verified client certificate names its user: the subject's CN or the first SAN of a kind. */
export const CLIENT_IDENTITY_FIELDS = ['cn', 'san-dns', 'san-email', 'san-uri'] as const;
export type ClientIdentityField = (typeof CLIENT_IDENTITY_FIELDS)[number];

/**
 * Distribution's `http.tls` (and Berth's `http.debug.tls`): the listener speaks HTTPS when `certificate` is set. Paths are read at
 * start-up and re-read when the files change; relative ones resolve against the working directory.
 */
export const tlsSchema = z
  .object({
    /** PEM certificate, optionally followed by its intermediates. */
    certificate: z.string().min(1).optional(),
    /** PEM private key of the certificate (unencrypted, as in Distribution). */
    key: z.string().min(1).optional(),
    /** PEM CA bundles: when set, every client must present a certificate signed by one of them. */
    // Empty (a null in YAML, or `REGISTRY_HTTP_TLS_CLIENTCAS=` from a compose default) means none.
    clientcas: z.preprocess((v) => (v === null ? undefined : v), z.array(z.string().min(1)).min(1, 'list at least one CA file, or leave the key out').optional()),
    /**
     * Berth (zot-like): a client certificate verified against `clientcas` authenticates its
     * connection as the user this field names, for the access-control policy. Unset: off.
     */
    clientidentity: z.enum(CLIENT_IDENTITY_FIELDS, { errorMap: () => ({ message: `expected one of ${CLIENT_IDENTITY_FIELDS.join(', ')}` }) }).optional(),
    minimumtls: z
      .string()
      .refine((v): v is (typeof TLS_VERSIONS)[number] => (TLS_VERSIONS as readonly string[]).includes(v), {
        message: `expected ${TLS_VERSIONS.join(' or ')} (TLS 1.0 and 1.1 are not offered)`,
      })
      .default('tls1.2'),
    /** Go names, as in Distribution; unset: Distribution's default list. */
    ciphersuites: z
      .array(z.string())
      .superRefine((names, ctx) => {
        names.forEach((name, i) => {
          const problem = cipherSuiteProblem(name);
          if (problem !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i], message: problem });
        });
      })
      .optional(),
    /** Berth: how often the files are checked for a rotation that file-system events missed. */
    reloadinterval: duration.default('1m'),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.certificate !== undefined && t.key === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['key'], message: 'required with certificate' });
    if (t.certificate === undefined)
      for (const k of ['key', 'clientcas', 'ciphersuites'] as const)
        if (t[k] !== undefined) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [k], message: 'has no effect without certificate' });
    if (t.clientidentity !== undefined && t.clientcas === undefined)
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['clientidentity'], message: 'needs clientcas: only a certificate verified against them names a user' });
  });

export type TlsConfig = z.output<typeof tlsSchema>;
