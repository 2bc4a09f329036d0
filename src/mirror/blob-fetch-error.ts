/** Why a fetch left nothing cached (the error its readers are destroyed with). */
export type BlobFetchFailure = 'digest-mismatch' | 'size-mismatch' | 'upstream-failed' | 'storage-failed' | 'abandoned' | 'closed';

export class BlobFetchError extends Error {
  override readonly name = 'BlobFetchError';

  constructor(
    readonly reason: BlobFetchFailure,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
