import type { Logger } from 'pino';
import { createLogger } from '../../logger';
import { failWith } from '../../fail';
import { parseDigest } from '../../oci/digest';
import { createStorageDriver } from '../../storage';
import { LayerAnalyser } from '../analyser';
import { isInsightMessage, type FromChild, type ToChild } from './messages';
import { lowerOwnPriority } from './scheduling';

const send = (m: FromChild): void => {
  if (process.connected) process.send?.(m);
};

/**
 * The analysis child (docs/architecture.md, "Image insight: the analysis child"): analyses the
 * store's queue at the lowest CPU priority, for the server process that spawned it. Its
 * configuration comes over IPC; it exits when told to stop or when the server is gone.
 */
async function main(): Promise<void> {
  const scheduling = await lowerOwnPriority();
  // Set once set up; the messages that come before find them absent.
  const state: { analyser?: LayerAnalyser; logger?: Logger } = {};
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      await state.analyser?.stop().catch(() => undefined);
      process.exit(0);
    })();
  };
  const setup = new Promise<Extract<ToChild, { berth: 'insight-setup' }>>((resolve) => {
    process.on('message', (m: unknown) => {
      if (!isInsightMessage<ToChild>(m)) return;
      if (m.berth === 'insight-setup') resolve(m);
      else if (m.berth === 'insight-stop') stop();
      else if (m.berth === 'insight-job') state.analyser?.nudge(parseDigest(m.digest));
      else if (m.berth === 'insight-yield' && state.analyser) {
        const { digest } = m;
        void state.analyser.abandon(digest).then((held) => {
          // Not held here: another child or replica has it, and the server looks again on its own.
          // Answering would make it try the busy claim again at once, and ask again, in a loop.
          if (!held) return;
          state.logger?.info({ digest }, 'analysis yielded to a push waiting for it');
          send({ berth: 'insight-released', digest });
        });
      }
    });
  });
  // The server is gone (its channel closed, even by SIGKILL): nobody to analyse for.
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  // Ctrl-C reaches the whole process group: the server decides when this child stops.
  process.on('SIGINT', () => undefined);
  send({ berth: 'insight-hello' });
  const { config, claimTag } = await setup;
  if (stopping) return;
  const logger = createLogger(config.log).child({ insight: 'child', pid: process.pid });
  state.logger = logger;
  const driver = await createStorageDriver(config);
  const analyser = new LayerAnalyser({
    driver,
    config: config.insight,
    logger,
    claimTag,
    observer: {
      queueDepth: (n) => send({ berth: 'insight-depth', n }),
      analysed: (record) => send({ berth: 'insight-analysed', record }),
    },
    onFinished: (digest) => send({ berth: 'insight-finished', digest }),
  });
  state.analyser = analyser;
  analyser.start();
  logger.info({ scheduling }, 'analysis child started');
  send({ berth: 'insight-ready', scheduling });
}

main().catch(failWith);
