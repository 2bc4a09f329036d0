/** Which direction of a figure is the better one; `info` figures get no ratio. */
export type Better = 'higher' | 'lower' | 'info';

export interface Figure {
  name: string;
  value: number;
  unit: string;
  better: Better;
}

export type RegistryKind = 'berth' | 'reference';

/** What the figures need to know about the server under test. */
export interface Target {
  kind: RegistryKind | 'machine';
  /** Base URL, e.g. http://127.0.0.1:5000 */
  base: string;
  host: string;
  port: number;
  /** The server process, for /proc CPU and RSS readings. */
  pid: number;
}

/** Sizes and bounds of one run; `--quick` shrinks them. */
export interface BenchConfig {
  rounds: number;
  quick: boolean;
  mediumBlob: number;
  largeBlob: number;
  chunkSize: number;
  smallBlob: number;
  rateMs: number;
  warmupMs: number;
  tagCount: number;
  pushClients: number;
  pushLayers: number;
  pushLayerSize: number;
  /** Distinct manifests the replica-mode and all-core reads ask for (Zipf), and distinct small blobs. */
  workingSetManifests: number;
  workingSetBlobs: number;
  only: string[] | null;
  /** When set, Berth runs with --cpu-prof writing into this directory. */
  cpuProfDir: string | null;
  /** Berth as one replica of several: a shared secret, so no read caching by default. */
  shared: boolean;
  /** Both registries deliver every event to a receiver in the load generator (`--notify`). */
  notify: boolean;
  /** Berth runs the single-server groups with insight.enabled false (`--insight-off`). */
  insightOff: boolean;
}

export type Emit = (figure: Figure) => void;

/** What every figure group receives. */
export interface FigureContext {
  target: Target;
  cfg: BenchConfig;
  emit: Emit;
  /** A `# ` diagnostic line (load generator CPU, errors, what a server did). */
  note: (line: string) => void;
}
