import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBerthProcess, type BerthProcess } from '../helpers/berth-process';
import { createCa, issue, type Issued } from '../helpers/test-ca';

export interface TlsFixture {
  /** A scratch directory holding tls.crt, tls.key and ca.pem. */
  work: string;
  ca: Issued;
  /** A client certificate signed by the CA. */
  client(name: string): Promise<Issued>;
  /**
   * Berth over HTTPS on `host` (127.0.0.1 by default), memory storage; with `mutual`, clients need a
   * certificate from the CA; `env` adds settings.
   */
  start(opts?: { mutual?: boolean; host?: string; env?: Record<string, string> }): Promise<BerthProcess>;
  cleanup(): Promise<void>;
}

/** A CA, a server certificate for localhost, 127.0.0.1 and `ips`, and the Berth processes using them. */
export async function tlsFixture(prefix: string, opts: { ips?: string[] } = {}): Promise<TlsFixture> {
  const work = await mkdtemp(path.join(os.tmpdir(), prefix));
  const ca = await createCa(`${prefix} root`);
  const server = await issue(ca, 'registry', { ips: opts.ips });
  await writeFile(path.join(work, 'tls.crt'), server.certPem);
  await writeFile(path.join(work, 'tls.key'), server.keyPem);
  await writeFile(path.join(work, 'ca.pem'), ca.certPem);
  const running: BerthProcess[] = [];
  return {
    work,
    ca,
    client: (name) => issue(ca, name, { usage: 'client' }),
    async start(o = {}) {
      const berth = await startBerthProcess({
        env: {
          REGISTRY_STORAGE: 'inmemory',
          REGISTRY_HTTP_ADDR: `${o.host ?? '127.0.0.1'}:0`,
          REGISTRY_HTTP_TLS_CERTIFICATE: path.join(work, 'tls.crt'),
          REGISTRY_HTTP_TLS_KEY: path.join(work, 'tls.key'),
          ...(o.mutual ? { REGISTRY_HTTP_TLS_CLIENTCAS: `[${path.join(work, 'ca.pem')}]` } : {}),
          ...o.env,
        },
      });
      running.push(berth);
      return berth;
    },
    async cleanup() {
      for (const p of running) await p.stop('SIGKILL');
      await rm(work, { recursive: true, force: true });
    },
  };
}
