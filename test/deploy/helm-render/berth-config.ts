import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { removeTree } from '../../helpers/daemon';
import { run } from '../../helpers/exec';
import { configPathFromArgs, mainContainer, mountedFile, resolveEnv, secretData, workload } from './pod-spec';
import { REPO_ROOT, type K8sObject } from './render';

const MAIN = path.join(REPO_ROOT, 'dist', 'src', 'main.js');

/** What Berth's process in the rendered pod starts with: its config file's text and its environment. */
export function podStart(objects: K8sObject[], extraSecrets: Record<string, Record<string, string>> = {}): { config: string; env: Record<string, string> } {
  const w = workload(objects);
  const c = mainContainer(w);
  const secrets = secretData(objects, extraSecrets);
  return { config: mountedFile(w, objects, secrets, configPathFromArgs(c)), env: resolveEnv(c, secrets) };
}

/**
 * Berth's own `config check` on the rendered config file and environment, as the pod would start:
 * the effective configuration it prints (secrets left out) and the secret keys it left out.
 */
export async function berthCheck(objects: K8sObject[], extraSecrets: Record<string, Record<string, string>> = {}): Promise<{ effective: Record<string, any>; leftOut: string[] }> {
  const { config, env } = podStart(objects, extraSecrets);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-helm-config-'));
  try {
    const file = path.join(dir, 'config.yml');
    await writeFile(file, config);
    const result = await run(process.execPath, [MAIN, 'config', 'check', '--config', file], { env: { PATH: process.env.PATH, ...env }, timeoutMs: 30_000, allowFailure: true });
    assert.equal(result.code, 0, `berth config check refused the rendered config:\n${result.stderr}\n${config}`);
    const section = result.stderr.split(/^left out[^\n]*\n/m)[1] ?? '';
    const leftOut = [...section.matchAll(/^ {2}(\S+)$/gm)].map((m) => m[1]);
    return { effective: JSON.parse(result.stdout) as Record<string, any>, leftOut };
  } finally {
    await removeTree(dir);
  }
}

/** The effective configuration `berthCheck` prints. */
export async function berthAccepts(objects: K8sObject[], extraSecrets: Record<string, Record<string, string>> = {}): Promise<Record<string, any>> {
  return (await berthCheck(objects, extraSecrets)).effective;
}
