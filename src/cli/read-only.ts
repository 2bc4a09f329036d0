import type { Config } from '../config/schema';

/** The configuration with storage read-only: a command that only reads can then never write, nor create the root. */
export function readOnly(config: Config): Config {
  const maintenance = { ...config.storage.maintenance, readonly: { enabled: true } };
  return { ...config, storage: { ...config.storage, maintenance } };
}
