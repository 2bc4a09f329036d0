import { parseDuration } from '../config/duration';
import { isDockerHub, MIRROR_DEFAULTS, type MirrorConfig } from '../config/mirror-schema';
import type { Config } from '../config/schema';

/** A configured upstream, whether from `mirrors` or from Distribution's `proxy`. */
export type Mirror = MirrorConfig;

/**
 * The mirrors the registry serves. Distribution's `proxy` is one mirror with an empty prefix: every
 * name is its, nothing is pushable, and `ns` is ignored as Distribution ignores it (no namespaces).
 */
export function configuredMirrors(config: Pick<Config, 'proxy' | 'mirrors'>): Mirror[] {
  const p = config.proxy;
  if (p === undefined) return [...config.mirrors];
  return [
    {
      prefix: '',
      url: p.remoteurl,
      username: p.username,
      password: p.password,
      insecure: false,
      ttl: p.ttl,
      maxsize: p.maxsize,
      tagttl: parseDuration(MIRROR_DEFAULTS.tagttl),
      stale: parseDuration(MIRROR_DEFAULTS.stale),
      namespaces: [],
      dockerhub: isDockerHub(p.remoteurl),
      default: false,
    },
  ];
}
