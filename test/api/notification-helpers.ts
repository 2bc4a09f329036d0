import { createMemoryDriver } from '../../storage-drivers';
import { isNotFound } from '../../storage-drivers/errors';
import type { StorageDriver } from '../../storage-drivers/types';
import type { ConfigInput } from '../../src/config/schema';
import type { EventReceiver, ReceivedEvent } from '../helpers/event-receiver';
import { startRegistry, testConfig, type TestRegistry } from './server';

// Shared by the notification suites (notifications.test.ts, notification-recording.test.ts).

export const EVENTS_MEDIA_TYPE = 'application/vnd.docker.distribution.events.v1+json';

export function notifying(url: string, extra: Record<string, unknown> = {}): ConfigInput {
  return { notifications: { endpoints: [{ name: 'receiver', url, backoff: '10ms', maxbackoff: '50ms', ...extra }] } };
}

/** A registry that records events for `receiver` and delivers them in the background. */
export async function startNotifying(receiver: EventReceiver, opts: { driver?: ReturnType<typeof createMemoryDriver>; deliver?: boolean } = {}): Promise<TestRegistry> {
  const registry = await startRegistry({ config: testConfig(notifying(receiver.url)), driver: opts.driver, deps: { eventPollMs: 50 } });
  if (opts.deliver !== false) registry.app.startBackgroundTasks();
  return registry;
}

/** Every file below `dir`; none when it does not exist (the memory driver drops empty directories). */
export async function filesUnder(driver: StorageDriver, dir: string): Promise<string[]> {
  const files: string[] = [];
  try {
    for await (const f of driver.walk(dir)) if (!f.isDir) files.push(f.path);
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  return files;
}

export const pushesOf = (repo: string) => (events: ReceivedEvent[]) => events.filter((e) => e.action === 'push' && e.target.repository === repo && e.target.tag !== undefined);
