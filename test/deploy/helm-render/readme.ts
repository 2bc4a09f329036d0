import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { CHART_DIR } from './render';

/**
 * The chart's README.md, generated from values.schema.json (every value's type and description) and
 * values.yaml (its default), so that the reference cannot drift from what the chart accepts.
 *
 *   node dist/test/deploy/helm-render/readme.js     # rewrites helm/berth/README.md
 *
 * test/deploy/helm-readme.test.ts fails when the README and the schema are out of step.
 */

interface Schema {
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  properties?: Record<string, Schema>;
  items?: Schema;
}

export interface ValueRow {
  key: string;
  schema: Schema;
}

/** Every property the schema declares, depth first in declaration order; array items as `key[].field`. */
export function schemaRows(schema: Schema, prefix = ''): ValueRow[] {
  const rows: ValueRow[] = [];
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    const key = prefix ? `${prefix}.${name}` : name;
    rows.push({ key, schema: child }, ...schemaRows(child, key));
    if (child.items?.properties) rows.push(...schemaRows(child.items, `${key}[]`));
  }
  return rows;
}

function valueAt(values: unknown, key: string): unknown {
  if (key.includes('[]')) return undefined;
  return key.split('.').reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), values);
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => '`' + text + '`';

function typeOf(s: Schema): string {
  if (s.enum) return s.enum.map((e) => code(JSON.stringify(e))).join(', ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : ['any'];
  return types.join(' or ');
}

function defaultOf(s: Schema, value: unknown): string {
  // A group's defaults are on the rows of its fields.
  if (value === undefined || s.properties) return '';
  return code(JSON.stringify(value));
}

export async function chartReadme(chartDir = CHART_DIR): Promise<string> {
  const chart = parse(await readFile(path.join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, any>;
  const values = parse(await readFile(path.join(chartDir, 'values.yaml'), 'utf8')) as Record<string, unknown>;
  const schema = JSON.parse(await readFile(path.join(chartDir, 'values.schema.json'), 'utf8')) as Schema;
  const lines = [
    `<!-- Generated from values.schema.json and values.yaml by test/deploy/helm-render/readme.ts: do not edit. -->`,
    `# ${chart.name}`,
    '',
    `${chart.description}.`,
    '',
    `Chart ${chart.version}, Berth ${chart.appVersion}, Kubernetes ${chart.kubeVersion}.`,
    '',
    '```sh',
    `helm install registry ./helm/${chart.name} --namespace registry --create-namespace`,
    'helm test registry --namespace registry   # pushes and pulls an image through the Service',
    '```',
    '',
    "docs/helm.md in Berth's repository explains the layouts (one volume, ReadWriteMany, S3), secrets and GitOps, auth, the pull-through mirror, metrics and the tests.",
    '',
    'Examples: `examples/mirror.yaml`, the values of a pull-through mirror of Docker Hub, GHCR and Quay for a cluster\'s nodes.',
    '',
    '## Values',
    '',
    '| Key | Type | Default | Description |',
    '|---|---|---|---|',
    ...schemaRows(schema).map(({ key, schema: s }) => `| ${code(key)} | ${cell(typeOf(s))} | ${cell(defaultOf(s, valueAt(values, key)))} | ${cell(s.description ?? '')} |`),
    '',
  ];
  return lines.join('\n');
}

if (require.main === module) {
  chartReadme()
    .then((text) => writeFile(path.join(CHART_DIR, 'README.md'), text))
    .catch((e: Error) => {
      console.error(e.message);
      process.exit(1);
    });
}
