import type { ZodTypeAny } from 'zod';

/** What an environment value must be turned into before the schema sees it. */
export type LeafKind = 'string' | 'number' | 'boolean' | 'yaml';

export type SchemaNode =
  | { kind: 'object'; shape: Record<string, ZodTypeAny> }
  | { kind: 'record'; value: ZodTypeAny }
  | { kind: 'leaf'; leaf: LeafKind };

/** Strips the wrappers (default, optional, transforms, ...) that do not change a value's shape. */
export function unwrap(t: ZodTypeAny): ZodTypeAny {
  for (;;) {
    const def = t._def as { typeName?: string; innerType?: ZodTypeAny; schema?: ZodTypeAny; in?: ZodTypeAny; type?: ZodTypeAny; getter?: () => ZodTypeAny };
    switch (def.typeName) {
      case 'ZodDefault':
      case 'ZodOptional':
      case 'ZodNullable':
      case 'ZodCatch':
      case 'ZodReadonly':
        t = def.innerType!;
        break;
      case 'ZodEffects':
        t = def.schema!;
        break;
      case 'ZodPipeline':
        t = def.in!;
        break;
      case 'ZodBranded':
        t = def.type!;
        break;
      case 'ZodLazy':
        t = def.getter!();
        break;
      default:
        return t;
    }
  }
}

/** Classifies a schema node for the environment-override walker. */
export function describe(t: ZodTypeAny): SchemaNode {
  const u = unwrap(t);
  const def = u._def as { typeName?: string; valueType?: ZodTypeAny; options?: ZodTypeAny[] };
  switch (def.typeName) {
    case 'ZodObject':
      return { kind: 'object', shape: (u as unknown as { shape: Record<string, ZodTypeAny> }).shape };
    case 'ZodRecord':
      return { kind: 'record', value: def.valueType! };
    case 'ZodBoolean':
      return { kind: 'leaf', leaf: 'boolean' };
    case 'ZodNumber':
    case 'ZodBigInt':
      return { kind: 'leaf', leaf: 'number' };
    case 'ZodString':
    case 'ZodEnum':
    case 'ZodNativeEnum':
    case 'ZodLiteral':
      return { kind: 'leaf', leaf: 'string' };
    case 'ZodUnion': {
      // Durations and versions take string|number: a string keeps every spelling ("90s", "0.1").
      const kinds = def.options!.map((o) => describe(o));
      if (kinds.some((k) => k.kind === 'leaf' && k.leaf === 'string')) return { kind: 'leaf', leaf: 'string' };
      if (kinds.every((k) => k.kind === 'leaf' && k.leaf === 'number')) return { kind: 'leaf', leaf: 'number' };
      return { kind: 'leaf', leaf: 'yaml' };
    }
    default:
      // Arrays, tuples, unknown: the value is YAML (or JSON) text.
      return { kind: 'leaf', leaf: 'yaml' };
  }
}
