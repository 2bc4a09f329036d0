/** The parts of OCI and Docker manifests, indexes and image configs the views show. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string; 'os.version'?: string };
  annotations?: Record<string, string>;
  artifactType?: string;
}

export interface Manifest {
  schemaVersion?: number;
  mediaType?: string;
  artifactType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
}

export interface ImageConfig {
  architecture?: string;
  os?: string;
  variant?: string;
  created?: string;
  author?: string;
  config?: {
    Env?: string[];
    Entrypoint?: string[] | null;
    Cmd?: string[] | null;
    WorkingDir?: string;
    User?: string;
    ExposedPorts?: Record<string, unknown>;
    Labels?: Record<string, string> | null;
  };
  history?: Array<{ created?: string; created_by?: string; empty_layer?: boolean; comment?: string }>;
}

export function isIndex(m: Manifest, contentType: string): boolean {
  return Array.isArray(m.manifests) || /index|manifest\.list/.test(contentType);
}

/** Each layer's `created_by`: the history entries that made a layer, in order (empty_layer ones skipped). */
export function layerHistory(config: ImageConfig | undefined, layers: number): Array<string | undefined> {
  const made = (config?.history ?? []).filter((e) => !e.empty_layer).map((e) => e.created_by);
  return Array.from({ length: layers }, (_, i) => made[i]);
}

const SECRET_NAME = /pass|secret|token|key|credential|auth/i;

/** `NAME=value` with the value hidden when the name suggests a credential; the insight reports it too. */
export function maskEnv(entry: string): string {
  const eq = entry.indexOf('=');
  if (eq < 0) return entry;
  return SECRET_NAME.test(entry.slice(0, eq)) ? `${entry.slice(0, eq)}=•••• (hidden)` : entry;
}
