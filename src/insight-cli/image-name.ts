/** An image as `docker pull` names it, split into where to ask and what. */
export interface ImageName {
  /** `host[:port]` when the name starts with one. */
  host?: string;
  repository: string;
  /** A tag or a digest; `latest` when the name has neither. */
  reference: string;
}

/**
 * `localhost:5000/app:1.0`, `registry.example/team/app@sha256:…`, `app`: the first component is a
 * host when it has a `.` or a `:` or is `localhost`, as docker decides.
 */
export function parseImageName(image: string): ImageName {
  let rest = image;
  let reference = 'latest';
  const at = rest.indexOf('@');
  if (at >= 0) {
    reference = rest.slice(at + 1);
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon > rest.lastIndexOf('/')) {
      reference = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
    }
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  const isHost = first !== '' && (first.includes('.') || first.includes(':') || first === 'localhost');
  const repository = isHost ? rest.slice(slash + 1) : rest;
  if (repository === '' || reference === '') throw new Error(`not an image name: "${image}"`);
  return isHost ? { host: first, repository, reference } : { repository, reference };
}

/** The registry's base URL: --registry, else the image's host (plain HTTP for a loopback one, as docker allows). */
export function registryUrl(name: ImageName, registry: string | undefined): string {
  if (registry !== undefined) return registry.replace(/\/+$/, '');
  if (name.host === undefined) throw new Error('name the registry: --registry URL, or an image name starting with its host');
  const loopback = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$/.test(name.host);
  return `${loopback ? 'http' : 'https'}://${name.host}`;
}
