import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { removeTree } from '../../helpers/daemon';
import { run } from '../../helpers/exec';
import { findTool, requireTools } from '../../helpers/tools';

export const REPO_ROOT = path.resolve(__dirname, '../../../..');
export const CHART_DIR = path.join(REPO_ROOT, 'helm', 'berth');
const SOURCE = path.join(REPO_ROOT, 'test', 'deploy', 'helm-render', 'main.go');

// Debian's Go packages install their sources here; the renderer builds against them in GOPATH
// mode, offline, so no module download is ever attempted.
const GOPATH = '/usr/share/gocode';
const GO_PACKAGES: Record<string, string> = {
  'github.com/Masterminds/semver': 'golang-github-masterminds-semver-dev',
  'github.com/Masterminds/sprig': 'golang-github-masterminds-sprig-dev',
  'github.com/xeipuuv/gojsonschema': 'golang-github-xeipuuv-gojsonschema-dev',
  'gopkg.in/yaml.v2': 'golang-gopkg-yaml.v2-dev',
  'gopkg.in/yaml.v3': 'golang-gopkg-yaml.v3-dev',
};

/** node:test `skip` value for tests that need the renderer (throws in CI when something is missing). */
export function rendererPrerequisites(): string | false {
  const tools = requireTools(['go']);
  const missing = Object.entries(GO_PACKAGES)
    .filter(([importPath]) => !existsSync(path.join(GOPATH, 'src', importPath)))
    .map(([, pkg]) => pkg);
  if (missing.length === 0) return tools;
  const reason = `Go packages not installed: ${missing.join(', ')}`;
  if (process.env.CI) throw new Error(`helm renderer prerequisites missing in CI (${reason}); .ci/run must install them`);
  return tools ? `${tools}; ${reason}` : reason;
}

let built: Promise<string> | undefined;

/**
 * Builds the renderer once per source version: the binary is kept under the temp dir by the hash
 * of main.go and the Go version, so later runs reuse it.
 */
export function rendererBinary(): Promise<string> {
  built ??= (async () => {
    const go = findTool('go')!;
    const source = await readFile(SOURCE);
    const version = (await run(go, ['version'], { timeoutMs: 30_000 })).stdout.trim();
    const hash = createHash('sha256').update(source).update(version).digest('hex').slice(0, 16);
    const dir = path.join(os.tmpdir(), 'berth-helm-render');
    const binary = path.join(dir, `helm-render-${hash}`);
    if (existsSync(binary)) return binary;
    await mkdir(dir, { recursive: true });
    const partial = `${binary}.${process.pid}.tmp`;
    const env = { ...process.env, GO111MODULE: 'off', GOPATH, GOFLAGS: '', GOPROXY: 'off', GOCACHE: path.join(dir, 'gocache'), CGO_ENABLED: '0' };
    await run(go, ['build', '-o', partial, SOURCE], { env, cwd: dir, timeoutMs: 300_000 });
    await rename(partial, binary);
    return binary;
  })();
  return built;
}

/** A Kubernetes object as rendered; fields are read through the typed helpers in the tests. */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> }; [key: string]: any };

export interface RenderResult {
  code: number | null;
  stdout: string;
  stderr: string;
  objects: K8sObject[];
}

/** Renders the chart with `values` merged over values.yaml, as `helm template` would. */
export interface RenderOptions {
  /** Extra API versions the cluster serves (.Capabilities.APIVersions), e.g. monitoring.coreos.com/v1. */
  apiVersions?: string[];
  release?: string;
  /** The cluster's version, as helm's --kube-version. */
  kubeVersion?: string;
}

export async function renderChart(values: Record<string, unknown> = {}, opts: RenderOptions = {}): Promise<RenderResult> {
  const binary = await rendererBinary();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-helm-values-'));
  try {
    const file = path.join(dir, 'values.json');
    // JSON is YAML: the renderer reads it like any values file.
    await writeFile(file, JSON.stringify(values));
    const args = ['-chart', CHART_DIR, '-f', file, '-name', opts.release ?? 'reg', '-namespace', 'registry'];
    if (opts.apiVersions) args.push('-api-versions', opts.apiVersions.join(','));
    if (opts.kubeVersion) args.push('-kube-version', opts.kubeVersion);
    const result = await run(binary, args, { timeoutMs: 60_000, allowFailure: true });
    const objects: K8sObject[] = [];
    if (result.code === 0)
      for (const doc of parseAllDocuments(result.stdout)) {
        if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0].message}\n${result.stdout}`);
        const value = doc.toJS() as K8sObject | null;
        if (value !== null) objects.push(value);
      }
    return { ...result, objects };
  } finally {
    await removeTree(dir);
  }
}

/** Renders and fails with the renderer's error when the chart refuses the values. */
export async function render(values: Record<string, unknown> = {}, opts: RenderOptions = {}): Promise<K8sObject[]> {
  const result = await renderChart(values, opts);
  if (result.code !== 0) throw new Error(`render failed (${result.code}): ${result.stderr}`);
  return result.objects;
}

export function only(objects: K8sObject[], kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}: ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found[0];
}

/** Asserts that values.schema.json refuses `values`, with a message matching `why`. */
export async function assertSchemaRefuses(values: Record<string, unknown>, why: RegExp): Promise<void> {
  const result = await renderChart(values);
  assert.notEqual(result.code, 0, `accepted: ${JSON.stringify(values)}`);
  assert.match(result.stderr, /values don't meet the specifications of the schema/);
  assert.match(result.stderr, why);
}
