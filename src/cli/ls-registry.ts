import { createHash } from 'node:crypto';
import { MEDIA_TYPES } from '../oci/manifest-parse';
import { RegistryFetch, type Credentials } from '../insight-cli/registry-fetch';
import { errorMessage } from '../insight-cli/registry-source';
import { imageSize } from './image-size';
import { PAGE_SIZE, type LsSource, type TagRow } from './ls-source';

/** Every manifest type a registry may hold, as docker asks for them. */
const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', ');

/** A registry's answer that was not the one expected: its code and message, with a hint on 401. */
export class RegistryError extends Error {}

/** The `rel="next"` target of a Link header (Distribution's pagination), resolved against `base`. */
export function nextLink(header: string | null, base: string): string | undefined {
  const m = header === null ? null : /<([^>]+)>\s*;\s*rel="?next"?/.exec(header);
  return m ? new URL(m[1], base).toString() : undefined;
}

/**
 * `berth ls --registry URL`: the catalog and tag lists page by page (following each answer's Link
 * header), and each tag's manifest (with an index's children) for its digest and size, through
 * docker's token or Basic auth. The Distribution API has no push time: it is the manifest's
 * Last-Modified header when the registry sends one, else unknown.
 */
export class RegistryLsSource implements LsSource {
  private readonly client: RegistryFetch;
  private readonly base: string;

  constructor(
    registry: string,
    private readonly credentials?: Credentials,
  ) {
    this.base = registry.replace(/\/+$/, '');
    this.client = new RegistryFetch(credentials);
  }

  repositories(): AsyncIterable<string[]> {
    return this.pages(`${this.base}/v2/_catalog?n=${PAGE_SIZE}`, (body) => (body as { repositories?: string[] }).repositories ?? []);
  }

  tags(repository: string): AsyncIterable<string[]> {
    return this.pages(`${this.base}/v2/${repository}/tags/list?n=${PAGE_SIZE}`, (body) => (body as { tags?: string[] | null }).tags ?? []);
  }

  async describe(repository: string, tag: string): Promise<TagRow> {
    const res = await this.fetch(`${this.base}/v2/${repository}/manifests/${tag}`, MANIFEST_ACCEPT);
    const bytes = Buffer.from(await res.arrayBuffer());
    const digest = res.headers.get('docker-content-digest') ?? `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const modified = res.headers.get('last-modified');
    const pushed = modified === null ? null : new Date(modified).toISOString();
    const child = async (d: string): Promise<Buffer | null> => {
      const r = await this.client.get(`${this.base}/v2/${repository}/manifests/${d}`, MANIFEST_ACCEPT);
      if (r.status === 404) {
        await r.arrayBuffer();
        return null;
      }
      if (r.status !== 200) throw new RegistryError(`${r.url}: ${r.status} ${errorMessage(await r.text())}`);
      return Buffer.from(await r.arrayBuffer());
    };
    return { tag, digest, pushed, ...(await imageSize(bytes, child)) };
  }

  private async *pages(first: string, items: (body: unknown) => string[]): AsyncIterable<string[]> {
    let url: string | undefined = first;
    while (url !== undefined) {
      const res = await this.fetch(url);
      const page = items(await res.json());
      if (page.length > 0) yield page;
      url = nextLink(res.headers.get('link'), url);
    }
  }

  private async fetch(url: string, accept?: string): Promise<Response> {
    let res: Response;
    try {
      res = await this.client.get(url, accept);
    } catch (e) {
      throw new RegistryError(`${url}: ${(e as Error).message}`);
    }
    if (res.status === 200) return res;
    const hint = res.status === 401 && this.credentials === undefined ? ' (pass --user and --password)' : '';
    throw new RegistryError(`${url}: ${res.status} ${errorMessage(await res.text())}${hint}`);
  }
}
