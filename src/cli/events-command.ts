import type { Command } from '../command-line';
import { loadConfigWithSource } from '../config/load';
import { DeadLetterAdmin, type SetAside } from '../events/dead-letter-admin';
import { createStorageDriver } from '../storage';
import type { CliIo } from './io';
import { readOnly } from './read-only';

type EventsCommand = Extract<Command, { name: 'events' }>;


function table(rows: SetAside[]): string {
  if (rows.length === 0) return 'no events are set aside\n';
  const lines = rows.map((r) => {
    const why = r.reason ? `${r.reason.status} after ${r.reason.attempts} attempts at ${r.reason.at}: ${r.reason.error}` : '(marker unreadable)';
    return [r.endpoint, r.segment, String(r.events), r.stored ? why : `${why} (segment gone: nothing to send)`];
  });
  const widths = [0, 1, 2].map((i) => Math.max(...[['ENDPOINT', 'SEGMENT', 'EVENTS'][i], ...lines.map((l) => l[i])].map((s) => s.length)));
  const row = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c)).join('  ').trimEnd() + '\n';
  return row(['ENDPOINT', 'SEGMENT', 'EVENTS', 'WHY']) + lines.map(row).join('');
}

/**
 * `berth events`: the dead letters of event delivery, on the configured store. Returns 0; 1 when
 * retry or discard named a segment that is not set aside for the endpoint (the others are done).
 */
export async function eventsCommand(io: CliIo, command: EventsCommand): Promise<number> {
  const { config } = await loadConfigWithSource({ file: command.config, env: io.env });
  if (command.action === 'list') {
    const admin = new DeadLetterAdmin(await createStorageDriver(readOnly(config)));
    const rows = await admin.list(command.endpoint);
    io.out(command.json ? JSON.stringify({ setAside: rows }, null, 2) + '\n' : table(rows));
    return 0;
  }
  const endpoint = command.endpoint!;
  const admin = new DeadLetterAdmin(await createStorageDriver(config));
  const wanted = command.all ? (await admin.list(endpoint)).map((r) => r.segment) : command.segments;
  const done = command.action === 'retry' ? await admin.retry(endpoint, wanted) : await admin.discard(endpoint, wanted);
  const missing = wanted.filter((s) => !done.includes(s));
  const verb = command.action === 'retry' ? 'will be sent again at the next delivery pass' : 'given up: they count as delivered to it';
  io.out(done.length === 0 ? `events: nothing set aside for ${endpoint} to ${command.action}\n` : `events: ${done.length} segment(s) for ${endpoint} ${verb}\n`);
  for (const s of missing) io.err.write(`events: ${s} is not set aside for ${endpoint}\n`);
  return missing.length > 0 ? 1 : 0;
}
