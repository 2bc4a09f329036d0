import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { parseDigest } from '../../src/oci/digest';
import { startRegistry, testConfig, type TestRegistry } from '../api/server';
import { startScriptedUpstream, type ScriptedBlob, type ScriptedUpstream } from './scripted-upstream';

export const PREFIX = 'up.test';
export const UPSTREAM_REPO = 'library/ranged';
export const NAME = `${PREFIX}/${UPSTREAM_REPO}`;
export const MiB = 1024 * 1024;

export interface RangeSetup {
  upstream: ScriptedUpstream;
  berth: TestRegistry;
  /** The mirror's URL of `blob`. */
  url(blob: ScriptedBlob): string;
  cached(blob: ScriptedBlob): Promise<boolean>;
}

/** A Berth mirroring a scripted upstream for the suite (started in before(), stopped in after()). */
export function useRangeSetup(): RangeSetup {
  let work = '';
  let upstream: ScriptedUpstream | undefined;
  let berth: TestRegistry | undefined;
  before(async () => {
    work = await mkdtemp(path.join(os.tmpdir(), 'berth-mirror-range-'));
    upstream = await startScriptedUpstream(UPSTREAM_REPO);
    berth = await startRegistry({ config: testConfig({ mirrors: [{ prefix: PREFIX, url: upstream.url }], mirror: { spooldirectory: path.join(work, 'spool') } }) });
  });
  after(async () => {
    await berth?.close();
    await upstream?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });
  return {
    get upstream() {
      return upstream!;
    },
    get berth() {
      return berth!;
    },
    url: (blob) => `${berth!.url}/v2/${NAME}/blobs/${blob.digest}`,
    cached: (blob) =>
      berth!.app.registry.blobs.stat(NAME, parseDigest(blob.digest)).then(
        () => true,
        () => false,
      ),
  };
}
