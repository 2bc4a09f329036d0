import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * package.json sits two levels above dist/src/ in a checkout and in the image (/app), so the
 * version is read when asked for rather than compiled in or read at import time.
 */
export async function berthVersion(packageJson = path.resolve(__dirname, '..', '..', '..', 'package.json')): Promise<string> {
  const { version } = JSON.parse(await readFile(packageJson, 'utf8')) as { version?: unknown };
  if (typeof version !== 'string') throw new Error(`${packageJson} has no version`);
  return version;
}
