import { ConfigError } from './config/load';
import { GcLockedError } from './oci/gc-lease';
import { StartupError } from './listen';
import { SharedStorageError } from './shared-storage';
import { StorageSetupError } from './storage';
import { TlsSetupError } from './tls/tls-files';

/** Prints `message` on one line to stderr and exits with `code`. */
export function fail(message: string, code = 1): never {
  process.stderr.write(message.replace(/\s*\n\s*/g, ' ') + '\n');
  process.exit(code);
}

/** A command's failure: the known kinds say what is wrong in their own words, anything else is prefixed. */
export function failWith(err: unknown): never {
  if (err instanceof ConfigError || err instanceof StorageSetupError || err instanceof StartupError || err instanceof TlsSetupError || err instanceof SharedStorageError || err instanceof GcLockedError)
    fail(err.message);
  fail(`berth: ${(err as Error)?.message ?? String(err)}`);
}
