import { AggregatorRegistry } from 'prom-client';
import { failWith } from '../fail';
import { createLogger } from '../logger';
import { serve } from '../serve';
import { isBerthMessage, type ToPrimary, type ToWorker } from './messages';
import { PrimaryLink } from './primary-link';

const send = (m: ToPrimary) => process.send?.(m);

/**
 * A worker of a group: waits for its setup from the primary (configuration, slot, the group's
 * secret; all over IPC, never from argv or the environment), then serves as a single process does.
 * The primary's `drain`, a SIGTERM and the primary's disappearance all mean: drain once, exit.
 */
export async function runWorker(): Promise<void> {
  const link = new PrimaryLink(send);
  let stop: (() => void) | undefined;
  let stopAsked = false;
  let groupStarted = false;
  const askStop = () => {
    stopAsked = true;
    stop?.();
  };
  const setup = new Promise<Extract<ToWorker, { berth: 'setup' }>>((resolve) => {
    process.on('message', (m: unknown) => {
      if (!isBerthMessage<ToWorker>(m)) return;
      if (m.berth === 'setup') resolve(m);
      else if (m.berth === 'drain') askStop();
      else if (m.berth === 'started') groupStarted = true;
      else link.receive(m);
    });
  });
  process.on('disconnect', () => {
    link.disconnected();
    // Before its setup a worker holds nothing: it just goes.
    if (stop === undefined) process.exit(0);
    askStop();
  });
  send({ berth: 'hello' });
  const { config, slot, secret, instance } = await setup;
  if (stopAsked) process.exit(0);
  const logger = createLogger(config.log).child({ worker: slot });
  try {
    await serve(config, logger, {
      slot,
      instanceId: instance,
      groupSecret: secret === undefined ? undefined : Buffer.from(secret, 'base64'),
      peers: link,
      sessionLocker: link,
      shareMetrics(registry) {
        // Constructing one installs prom-client's answer to the primary's scrapes.
        new AggregatorRegistry();
        AggregatorRegistry.setRegistries([registry]);
      },
      onStop(fn) {
        stop = fn;
        if (stopAsked) fn();
      },
      listening: (info) => send({ berth: 'listening', ...info }),
      groupStarted: () => groupStarted,
    });
  } catch (err) {
    failWith(err);
  }
}
