import type { BlobCache } from './blob-data';
import type { HttpClient } from './http-client';
import { pullBlob, pushChunked, pushMonolithic, pushStreamed } from './oci';
import { MiB } from './stats';

/** Blobs per push shape; enough calls for V8 to optimise the upload and pull paths. */
const ROUNDS = 4;
const SIZE = 8 * MiB;

/**
 * Runs every large-blob request shape a few times on small blobs before anything is timed, the same
 * for both registries. A registry in service is warm; without this the first timed push also measures
 * V8 compiling Berth's upload path (about 100 ms of CPU on a 64 MiB push here) and the first
 * directories Distribution creates.
 */
export async function warmUpLargeBlobs(client: HttpClient, blobs: BlobCache): Promise<void> {
  for (let i = 0; i < ROUNDS; i++) {
    const mono = blobs.get(`warm-mono-${i}`, SIZE);
    await pushMonolithic(client, 'warm/mono', mono);
    await pushChunked(client, 'warm/chunked', blobs.get(`warm-chunked-${i}`, SIZE), SIZE / 4);
    await pushStreamed(client, 'warm/streamed', blobs.get(`warm-streamed-${i}`, SIZE));
    await pullBlob(client, 'warm/mono', mono.digest);
  }
}
