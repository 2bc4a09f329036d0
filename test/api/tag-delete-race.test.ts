import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createFilesystemDriver, createMemoryDriver } from '../../storage-drivers';
import type { StorageDriver } from '../../storage-drivers/types';
import { deleteBetweenPushWrites, digestDeleteBeforePushTags, pushElsewhereWhileDigestDeleteHeld, pushWhileDeleteHeld, pushWhileDigestDeleteHeld } from './tag-delete-race';

/** tag-delete-race.ts on the in-memory and filesystem drivers (test/s3/tag-delete-race-on-s3.test.ts: S3). */
for (const kind of ['memory', 'filesystem'] as const)
  describe(`a tag delete racing a push of the same tag (${kind})`, () => {
    let root: string;
    const open = (): StorageDriver => (kind === 'memory' ? createMemoryDriver() : createFilesystemDriver({ rootDirectory: root }));
    before(async () => {
      root = await mkdtemp(path.join(tmpdir(), 'berth-tag-race-'));
    });
    after(() => rm(root, { recursive: true, force: true }));

    it('a DELETE by tag answered between the push\'s current and index links leaves the acknowledged tag', () => deleteBetweenPushWrites(open(), 'by tag'));
    it('a DELETE by digest answered between the push\'s current and index links leaves the re-pushed tag and manifest', () => deleteBetweenPushWrites(open(), 'by digest'));
    it('a push answered while the DELETE by tag is held before its removal: the tag is gone, nothing listed', () => pushWhileDeleteHeld(open()));
    it('a push of the same manifest answered while the DELETE by digest is held before the revision goes: no tag is left naming it', () =>
      pushWhileDigestDeleteHeld(open()));
    it('a DELETE by digest answered between a push\'s revision link and its tag: the tag and the revision stay', () => digestDeleteBeforePushTags(open()));
    it('a push of the tag to another manifest answered while a DELETE by digest is held after reading the tag: the tag stays with the push', () =>
      pushElsewhereWhileDigestDeleteHeld(open()));
  });
