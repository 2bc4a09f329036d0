import type { ManifestReport } from '../insight/report/report-types';
import type { StorageView } from '../insight/storage-view';
import { registryUrl, type ImageName } from './image-name';
import { RegistryFetch, type Credentials } from './registry-fetch';
import type { Asked, ReportSource } from './run-insight';

/** Reports from a running registry's insight API, with docker's Basic and token auth. */
export class RegistrySource implements ReportSource {
  private readonly client: RegistryFetch;

  /** `registry`: --registry, else the image name's host. */
  constructor(
    private readonly registry: string | undefined,
    private readonly credentials?: Credentials,
  ) {
    this.client = new RegistryFetch(credentials);
  }

  async report(name: ImageName): Promise<Asked<ManifestReport>> {
    let base: string;
    try {
      base = registryUrl(name, this.registry);
    } catch (e) {
      return { ok: false, message: (e as Error).message, usage: true };
    }
    // 202: pending, asked again by the caller.
    return this.get<ManifestReport>(`${base}/v2/${name.repository}/_berth/insight/${name.reference}`, [200, 202]);
  }

  async storage(): Promise<Asked<StorageView>> {
    if (this.registry === undefined) return { ok: false, message: '--storage needs --registry URL', usage: true };
    return this.get<StorageView>(`${this.registry.replace(/\/+$/, '')}/v2/_berth/insight/storage`, [200]);
  }

  private async get<T>(url: string, statuses: number[]): Promise<Asked<T>> {
    let res: Response;
    try {
      res = await this.client.get(url);
    } catch (e) {
      return { ok: false, message: `${url}: ${(e as Error).message}` };
    }
    const text = await res.text();
    if (!statuses.includes(res.status)) {
      const hint = res.status === 401 && this.credentials === undefined ? ' (pass --user and --password)' : '';
      return { ok: false, message: `${url}: ${res.status} ${errorMessage(text)}${hint}` };
    }
    return { ok: true, value: JSON.parse(text) as T };
  }
}

/** The first OCI error of a registry's answer, as `CODE: message`; else the start of its body. */
export function errorMessage(body: string): string {
  try {
    const e = (JSON.parse(body) as { errors?: Array<{ code: string; message: string }> }).errors?.[0];
    return e ? `${e.code}: ${e.message}` : body.slice(0, 200);
  } catch {
    return body.slice(0, 200);
  }
}
