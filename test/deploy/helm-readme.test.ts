import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { chartReadme, schemaRows } from './helm-render/readme';
import { CHART_DIR } from './helm-render/render';

// Values the schema accepts without values.yaml setting them: a parent chart's globals, and the
// PDB's alternative to maxUnavailable (setting both would be an error).
const SCHEMA_ONLY = ['global', 'podDisruptionBudget.minAvailable'];

/** Keys of values.yaml down to the leaves (and to free-form maps the schema does not break down). */
function valueKeys(value: unknown, schemaKeys: Set<string>, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const keys = Object.entries(value).flatMap(([k, v]) => {
    const key = prefix ? `${prefix}.${k}` : k;
    // A map the schema declares without fields (resources, config, annotations) ends here.
    const open = schemaKeys.has(key) && ![...schemaKeys].some((s) => s.startsWith(`${key}.`));
    return open ? [key] : valueKeys(v, schemaKeys, key);
  });
  return prefix ? [prefix, ...keys] : keys;
}

describe('the chart README and values', () => {
  const read = (file: string) => readFile(path.join(CHART_DIR, file), 'utf8');

  it('README.md is what the generator makes of values.schema.json (node dist/test/deploy/helm-render/readme.js rewrites it)', async () => {
    assert.equal(await read('README.md'), await chartReadme());
  });

  it('describes every value in the schema', async () => {
    const rows = schemaRows(JSON.parse(await read('values.schema.json')));
    assert.deepEqual(
      rows.filter((r) => !r.schema.description).map((r) => r.key),
      [],
    );
  });

  it('declares every value of values.yaml in the schema, and sets every value the schema declares', async () => {
    const schemaKeys = new Set(schemaRows(JSON.parse(await read('values.schema.json'))).map((r) => r.key).filter((k) => !k.includes('[]')));
    const yamlKeys = new Set(valueKeys(parse(await read('values.yaml')), schemaKeys));
    assert.deepEqual([...yamlKeys].filter((k) => !schemaKeys.has(k)), [], 'in values.yaml, not in the schema');
    assert.deepEqual([...schemaKeys].filter((k) => !yamlKeys.has(k) && !SCHEMA_ONLY.includes(k)), [], 'in the schema, not in values.yaml');
  });
});
