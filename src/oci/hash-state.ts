import { createSHA256 } from 'hash-wasm';
import type { StorageDriver } from '../../storage-drivers/types';
import { isNotFound } from '../../storage-drivers/errors';
import { paths } from './paths';
import { deleteIfExists } from './links';
import type { UploadStateSigner } from './upload-state';

/** Tells a saved hash state from the other things the upload secret signs (the `_state` tokens). */
const KIND = 'upload-sha256-v2';

export interface UploadRef {
  name: string;
  uuid: string;
}

/**
 * The running sha256 of an upload's data, kept beside it so that a commit on another replica, or
 * after a restart, continues it instead of reading the data back. Signed with the upload secret
 * and bound to its session, to the number of bytes it covers and to the version of the content the
 * driver gave (FileWriter.version): a state is used only for exactly that many stored bytes of that
 * version, and anything else (missing, older, altered, another session's) is ignored,
 * which costs the commit a read of the data and nothing more.
 */
export class HashStateStore {
  constructor(
    private readonly driver: StorageDriver,
    private readonly signer: UploadStateSigner,
  ) {}

  /**
   * Not flushed: a state lost in a crash only costs the re-read, and a torn one fails its check.
   * Storage refusing it is not the PATCH's failure either, for the same reason.
   */
  async save(upload: UploadRef, offset: number, version: string | undefined, state: Uint8Array): Promise<boolean> {
    const token = this.signer.sign([KIND, upload.name, upload.uuid, offset, version ?? '', Buffer.from(state).toString('base64')]);
    try {
      await this.driver.putContent(paths.uploadHashState(upload.name, upload.uuid), Buffer.from(token), { durable: false });
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The saved state when it covers exactly the first `offset` bytes of this upload as of `version`,
   * else undefined. One for another offset or version is deleted: the caller is about to write from `offset` without it, and
   * once the upload grew to that offset again (after a crash lost bytes it covered) the state would
   * match bytes it never hashed.
   */
  async load(upload: UploadRef, offset: number, version: string | undefined): Promise<Uint8Array | undefined> {
    const file = paths.uploadHashState(upload.name, upload.uuid);
    let raw: Buffer;
    try {
      raw = await this.driver.getContent(file);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    const state = await this.usable(raw, upload, offset, version ?? '');
    if (state === undefined) await deleteIfExists(this.driver, file);
    return state;
  }

  private async usable(raw: Buffer, upload: UploadRef, offset: number, version: string): Promise<Uint8Array | undefined> {
    const fields = this.signer.verify(raw.toString('utf8'));
    if (fields === null || fields.length !== 6) return undefined;
    const [kind, name, uuid, saved, savedVersion, state] = fields;
    if (kind !== KIND || name !== upload.name || uuid !== upload.uuid || saved !== offset || savedVersion !== version) return undefined;
    if (typeof state !== 'string') return undefined;
    const bytes = Buffer.from(state, 'base64');
    // hash-wasm refuses a state of another algorithm or version; that too is only a re-read.
    try {
      (await createSHA256()).load(bytes);
    } catch {
      return undefined;
    }
    return bytes;
  }
}
