import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** A built UI as ui/build.mjs lays it out, small and known, so the serving tests do not depend on the bundle. */
export interface UiFixture {
  dir: string;
  script: string;
  scriptBody: string;
  cleanup(): Promise<void>;
}

export const FIXTURE_SCRIPT = 'assets/app-ABCD1234.js';

export async function uiFixture(): Promise<UiFixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-ui-'));
  await mkdir(path.join(dir, 'assets'));
  // Long enough to be gzipped (over 1 KiB).
  const scriptBody = `console.log(${JSON.stringify('x'.repeat(4000))});\n`;
  await writeFile(path.join(dir, FIXTURE_SCRIPT), scriptBody);
  await writeFile(path.join(dir, 'assets', 'style-ABCD1234.css'), 'body{color:red}\n');
  await writeFile(path.join(dir, 'assets', 'favicon-ABCD1234.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  await writeFile(path.join(dir, 'robots.txt'), 'User-agent: *\nDisallow: /\n');
  await writeFile(
    path.join(dir, 'index.html'),
    '<!doctype html><meta name="berth-ui-base" content="%BERTH_UI_BASE%"><script type="module" src="%BERTH_UI_BASE%/assets/app-ABCD1234.js"></script><div id="app"></div>\n',
  );
  return { dir, script: FIXTURE_SCRIPT, scriptBody, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
