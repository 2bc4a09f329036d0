/** What remote-sha256.ts and its worker (sha256-worker.ts) say to each other. */
export type ToWorker =
  | { op: 'start'; id: number; saved?: Uint8Array }
  | { op: 'update'; id: number; data: ArrayBuffer }
  | { op: 'save'; id: number; seq: number }
  | { op: 'digest'; id: number; seq: number }
  | { op: 'drop'; id: number };

export type FromWorker =
  | { id: number; hashed: number }
  | { id: number; failed: string }
  | { seq: number; state: Uint8Array }
  | { seq: number; hex: string }
  | { seq: number; error: string };
