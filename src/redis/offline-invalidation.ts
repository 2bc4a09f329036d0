import type { RedisConfig } from '../config/redis-schema';
import { describe } from './breaker';
import { createRedisClient } from './client';
import { within } from './deadline';
import { GENERATION } from './redis-cache';

/**
 * Drops every entry of the shared cache at once: the generation bump the scheduled collector makes,
 * for a command that deleted from the store outside every running replica (`berth gc`). A fill that
 * read storage before the deletions and lands after is refused too, since the generation it noted
 * has moved. Rejects, saying what the operator can do, when Redis does not confirm within
 * `dialtimeout` + `writetimeout`.
 */
export async function forgetEverything(config: RedisConfig): Promise<void> {
  let client: ReturnType<typeof createRedisClient> | undefined;
  try {
    client = createRedisClient(config, false);
    // Reported by the command that meets the failure, below.
    client.on('error', () => undefined);
    await within(config.dialtimeout, client.connect());
    await within(config.writetimeout, client.incr(GENERATION));
  } catch (err) {
    const db = config.db ? ` -n ${config.db}` : '';
    throw new Error(
      `could not invalidate the shared cache (redis at ${config.addr}: ${describe(err)}): running replicas may serve what was deleted for up to redis.ttl (${config.ttl / 1000}s); ` +
        `to drop their entries now, run \`redis-cli${db} INCR berth:generation\` against that Redis once it answers`,
      { cause: err },
    );
  } finally {
    // A dial that failed has closed it already.
    if (client?.isOpen) client.destroy();
  }
}
