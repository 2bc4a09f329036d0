import type { K8sObject } from './render';

/**
 * Strict validation of rendered manifests against the Kubernetes API's OpenAPI schemas, through the
 * validators `kubernetes-models` compiles from them (`@kubernetes-models/prometheus-operator` for
 * the ServiceMonitor CRD).
 *
 * Those validators check types, enums, formats and required fields, but they accept any property
 * the schema does not name (the schemas carry no `additionalProperties: false`), so a misspelled
 * field would pass while the API server drops it (or, with strict field validation, refuses the
 * object). The schemas themselves are not shipped, only the compiled code, so unknown fields are
 * found by asking the validator: each property in turn is replaced with a value no schema type
 * accepts, and a property the schema names then fails at its own path. One that raises nothing
 * there is not in the schema (map-typed fields, such as labels, check every key's value, so their
 * keys count as known).
 */

interface AjvError {
  instancePath: string;
  message?: string;
  keyword: string;
}
type ModelClass = new (data: unknown) => { validate(): void };

/**
 * import() of an ESM-only package (kubernetes-models exports no `require` entry): TypeScript's
 * CommonJS output turns a literal import() into require(), so the call is built at run time.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- a constant body, only to keep import() from being compiled to require()
export const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<Record<string, unknown>>;

function modulePath(apiVersion: string): string {
  if (apiVersion === 'monitoring.coreos.com/v1') return '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
  return `kubernetes-models/${apiVersion}`;
}

async function modelClass(apiVersion: string, kind: string): Promise<ModelClass> {
  const mod = await importEsm(modulePath(apiVersion)).catch((e: Error) => {
    throw new Error(`no schema for ${apiVersion}: ${e.message}`);
  });
  const cls = mod[kind] as (ModelClass & { apiVersion?: string; kind?: string }) | undefined;
  if (typeof cls !== 'function' || cls.kind !== kind) throw new Error(`no schema for ${apiVersion} ${kind}`);
  return cls;
}

function errorsOf(cls: ModelClass, data: unknown): AjvError[] {
  try {
    new cls(data).validate();
    return [];
  } catch (e) {
    const errors = (e as { errors?: AjvError[] }).errors;
    if (!errors) throw e;
    return errors;
  }
}

function pointer(path: (string | number)[]): string {
  return path.map((p) => '/' + String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

// A symbol: not a string, number, integer, boolean, object, array or null.
const POISON = Symbol('not-in-any-schema');

function poisoned(root: unknown, path: (string | number)[], key: string): unknown {
  const copy = structuredClone(root) as Record<string | number, any>;
  let node = copy;
  for (const p of path) node = node[p];
  node[key] = POISON;
  return copy;
}

/**
 * Problems the API's schema finds in one object: wrong types, bad enums or formats, missing required
 * fields, and fields the schema does not have. Empty when the object is valid.
 */
export async function schemaProblems(object: K8sObject): Promise<string[]> {
  const where = `${object.kind}/${object.metadata?.name}`;
  const cls = await modelClass(object.apiVersion, object.kind);
  const problems = errorsOf(cls, object).map((e) => `${where}: ${e.instancePath || '/'} ${e.message ?? e.keyword}`);
  // Depth first, array elements included; below an unknown field there is nothing more to learn.
  const visit = (value: unknown, path: (string | number)[]): void => {
    if (Array.isArray(value)) return value.forEach((child, i) => visit(child, [...path, i]));
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      const at = pointer([...path, key]);
      const known = errorsOf(cls, poisoned(object, path, key)).some((e) => e.instancePath === at || e.instancePath.startsWith(at + '/'));
      if (known) visit(child, [...path, key]);
      else problems.push(`${where}: ${at} is not a field of ${object.apiVersion} ${object.kind}`);
    }
  };
  visit(object, []);
  return problems;
}

/** Throws with every problem of every object. */
export async function assertValidObjects(objects: K8sObject[]): Promise<void> {
  const problems: string[] = [];
  for (const o of objects) problems.push(...(await schemaProblems(o)));
  if (problems.length > 0) throw new Error(`rendered objects break the Kubernetes API schema:\n${problems.join('\n')}`);
}
