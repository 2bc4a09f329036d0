import { ApiError, MANIFEST_TYPES } from '../api';
import type { ViewContext } from '../context';
import { add, facts, h } from '../dom';
import { bytes, date, isDigest, shortDigest } from '../format';
import { copyCommand } from '../components/copy';
import { confirmDialog } from '../components/confirm';
import { explain } from '../components/errors';
import { isIndex, layerHistory, maskEnv, type ImageConfig, type Manifest } from '../manifest';
import { paths } from '../routes';
import { mayDelete } from '../access';
import { artifactKind } from '../artifacts';
import { referrersSection } from './referrers';

const IMAGE_CONFIGS = ['application/vnd.oci.image.config.v1+json', 'application/vnd.docker.container.image.v1+json'];

function platformName(p: NonNullable<Manifest['manifests']>[number]['platform']): string {
  if (!p) return 'unknown';
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/') + (p['os.version'] ? ` (${p['os.version']})` : '');
}

function annotations(values: Record<string, string> | undefined): HTMLElement | null {
  const entries = Object.entries(values ?? {});
  if (entries.length === 0) return null;
  return h('section', null, h('h2', null, 'Annotations'), facts(entries.map(([k, v]) => [k, v])));
}

function indexSection(ctx: ViewContext, name: string, m: Manifest): HTMLElement {
  return h(
    'section',
    null,
    h('h2', null, 'Platforms'),
    h(
      'table',
      null,
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Platform'), h('th', { scope: 'col' }, 'Digest'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'Media type'))),
      h(
        'tbody',
        null,
        (m.manifests ?? []).map((d) =>
          h(
            'tr',
            null,
            h('td', null, h('a', { href: ctx.href(paths.image(name, d.digest)), 'data-link': true }, platformName(d.platform))),
            h('td', null, h('code', { title: d.digest }, shortDigest(d.digest))),
            h('td', { class: 'num' }, bytes(d.size)),
            h('td', null, d.mediaType),
          ),
        ),
      ),
    ),
  );
}

function configSection(config: ImageConfig): HTMLElement {
  const c = config.config ?? {};
  const list = (v: string[] | null | undefined) => (v && v.length > 0 ? h('code', null, JSON.stringify(v)) : undefined);
  return h(
    'section',
    null,
    h('h2', null, 'Configuration'),
    facts([
      ['Platform', [config.os, config.architecture, config.variant].filter(Boolean).join('/')],
      ['Created', date(config.created)],
      ['Author', config.author],
      ['Entrypoint', list(c.Entrypoint)],
      ['Command', list(c.Cmd)],
      ['Working directory', c.WorkingDir],
      ['User', c.User],
      ['Exposed ports', Object.keys(c.ExposedPorts ?? {}).join(', ')],
      ['Environment', (c.Env ?? []).length ? h('ul', { class: 'plain' }, (c.Env ?? []).map((e) => h('li', null, h('code', null, maskEnv(e))))) : undefined],
      ['Labels', Object.keys(c.Labels ?? {}).length ? h('ul', { class: 'plain' }, Object.entries(c.Labels ?? {}).map(([k, v]) => h('li', null, h('code', null, `${k}=${v}`)))) : undefined],
    ]),
  );
}

function layersSection(m: Manifest, config: ImageConfig | undefined): HTMLElement {
  const layers = m.layers ?? [];
  const made = layerHistory(config, layers.length);
  return h(
    'section',
    null,
    h('h2', null, `Layers (${layers.length}, ${bytes(layers.reduce((s, l) => s + l.size, 0))} compressed)`),
    h(
      'table',
      { class: 'layers' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, '#'), h('th', { scope: 'col' }, 'Size'), h('th', { scope: 'col' }, 'Made by'), h('th', { scope: 'col' }, 'Digest'))),
      h(
        'tbody',
        null,
        layers.map((l, i) =>
          h('tr', null, h('td', { class: 'num' }, i), h('td', { class: 'num' }, bytes(l.size)), h('td', null, made[i] ? h('code', { class: 'created-by' }, made[i]) : h('span', { class: 'muted' }, 'no history')), h('td', null, h('code', { title: l.digest }, shortDigest(l.digest)))),
        ),
      ),
    ),
  );
}

async function remove(ctx: ViewContext, name: string, reference: string, what: string): Promise<void> {
  const body = isDigest(reference)
    ? `This deletes the manifest ${reference} from ${name}, and every tag pointing to it. Pulls of it will fail.`
    : `This deletes the tag ${reference} from ${name}. The image stays available by digest.`;
  if (!(await confirmDialog(`Delete ${what}?`, body, `Delete ${what}`))) return;
  try {
    await ctx.api.request(`/v2/${name}/manifests/${reference}`, { method: 'DELETE' });
    ctx.announce(`Deleted ${what} ${name}${isDigest(reference) ? '@' : ':'}${reference}.`);
    ctx.navigate(paths.tags(name));
  } catch (err) {
    const why =
      err instanceof ApiError && err.status === 405
        ? 'this registry does not allow deletes (storage.delete.enabled is off, or it is read-only).'
        : err instanceof ApiError && (err.status === 401 || err.status === 403)
          ? `you are not allowed to delete in ${name}${ctx.session.user ? '' : ': sign in first'}.`
          : err instanceof Error
            ? err.message
            : String(err);
    ctx.announce(`Could not delete ${what}: ${why}`, 'error');
  }
}

/** An image or index by tag or digest: what it is made of, how to pull it, and deleting it. */
export async function imageView(ctx: ViewContext, name: string, reference: string): Promise<HTMLElement> {
  const byDigest = isDigest(reference);
  const section = h(
    'section',
    { 'aria-labelledby': 'image-title' },
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' }, h('a', { href: ctx.href(paths.repositories()), 'data-link': true }, 'Repositories'), ' / ', h('a', { href: ctx.href(paths.tags(name)), 'data-link': true }, name), ' / '),
    h('h1', { id: 'image-title' }, `${name}${byDigest ? '@' : ':'}${byDigest ? shortDigest(reference) : reference}`),
  );
  // Asked alongside the manifest: the answer decides whether the delete buttons are shown at all.
  const deletable = mayDelete(ctx, name);
  try {
    const res = await ctx.api.request(`/v2/${name}/manifests/${reference}`, { headers: { accept: MANIFEST_TYPES.join(', ') }, signal: ctx.signal });
    const raw = await res.arrayBuffer();
    const contentType = res.headers.get('content-type') ?? '';
    const digest = res.headers.get('docker-content-digest') ?? '';
    const m = JSON.parse(new TextDecoder().decode(raw)) as Manifest;
    const index = isIndex(m, contentType);
    const host = location.host;
    let config: ImageConfig | undefined;
    // An artifact (a signature, an SBOM) has no image config and no filesystem: no config, no insight.
    const image = !index && IMAGE_CONFIGS.includes(m.config?.mediaType ?? '');
    if (image && m.config?.digest) {
      const got = await ctx.api.request(`/v2/${name}/blobs/${m.config.digest}`, { signal: ctx.signal }).catch(() => undefined);
      config = got && ((await got.json().catch(() => undefined)) as ImageConfig | undefined);
    }
    const referrers = digest ? await referrersSection(ctx, name, digest) : null;
    add(section, 
      facts([
        ['Media type', m.mediaType ?? contentType],
        ['Digest', h('code', null, digest)],
        ['Manifest size', bytes(raw.byteLength)],
        ['Artifact type', m.artifactType && (artifactKind(m.artifactType) ? [`${artifactKind(m.artifactType)}: `, h('code', null, m.artifactType)] : m.artifactType)],
        // A referrer (signature, SBOM) names the image it is about: its subject, in the same repository.
        ['Subject', m.subject?.digest ? h('a', { href: ctx.href(paths.image(name, m.subject.digest)), 'data-link': true, class: 'subject', title: m.subject.digest }, shortDigest(m.subject.digest)) : undefined],
      ]),
      h(
        'section',
        { 'aria-labelledby': 'pull-title' },
        h('h2', { id: 'pull-title' }, 'Pull'),
        byDigest ? null : copyCommand('By tag', `docker pull ${host}/${name}:${reference}`, ctx.announce),
        copyCommand('By digest', `docker pull ${host}/${name}@${digest}`, ctx.announce),
      ),
      !image ? null : h('p', null, h('a', { href: ctx.href(paths.insight(name, reference)), 'data-link': true, class: 'button' }, 'Insight: efficiency, wasted bytes and secrets')),
      index ? indexSection(ctx, name, m) : layersSection(m, config),
      config ? configSection(config) : null,
      referrers,
      annotations(m.annotations),
      (await deletable)
        ? h(
            'section',
            { class: 'danger-zone', 'aria-labelledby': 'delete-title' },
            h('h2', { id: 'delete-title' }, 'Delete'),
            byDigest ? null : h('button', { type: 'button', class: 'danger', onclick: () => void remove(ctx, name, reference, 'tag') }, `Delete tag ${reference}`),
            h('button', { type: 'button', class: 'danger', onclick: () => void remove(ctx, name, digest, 'manifest') }, 'Delete manifest'),
          )
        : null,
    );
  } catch (err) {
    add(section, explain(err, ctx, `read ${name}:${reference}`));
  }
  return section;
}
