import type { Command } from '../command-line';
import { loadConfigWithSource } from '../config/load';
import { DomainError } from '../oci/errors';
import { mapBounded } from '../oci/bounded';
import { humanBytes } from '../insight-cli/format-report';
import { createStorageDriver } from '../storage';
import type { CliIo } from './io';
import { readOnly } from './read-only';
import { RegistryError, RegistryLsSource } from './ls-registry';
import type { LsSource, TagRow } from './ls-source';
import { StoreLsSource } from './ls-store';

/** Tags described at once (each a few reads, or requests to a registry). */
const DESCRIBE_WINDOW = 8;

/** `ls` only reads: the store is opened as a read-only registry would, so nothing is created. */

function kind(row: TagRow): string {
  if (row.manifests !== undefined) return `index of ${row.manifests}${row.missing ? `, ${row.missing} not here` : ''}`;
  return row.mediaType === undefined ? '' : 'image';
}

/** One line per tag, aligned on the longest tag; for people (--json for machines). */
export function formatTagRow(row: TagRow, tagWidth: number): string {
  const size = row.size === undefined ? '-' : humanBytes(row.size);
  const digest = row.digest ?? '(no current link: run berth check)';
  return `${row.tag.padEnd(tagWidth)}  ${digest}  ${size.padStart(10)}  ${(row.pushed ?? '-').padEnd(24)}  ${kind(row)}`.trimEnd();
}

async function listTags(io: CliIo, source: LsSource, repository: string, json: boolean): Promise<void> {
  const rows: TagRow[] = [];
  let listed = 0;
  for await (const page of source.tags(repository)) {
    const described = await mapBounded(page, DESCRIBE_WINDOW, (tag) => source.describe(repository, tag));
    if (json) rows.push(...described);
    else {
      const width = Math.max(3, ...described.map((r) => r.tag.length));
      if (listed === 0) io.out(`${'TAG'.padEnd(width)}  ${'DIGEST'.padEnd(71)}  ${'SIZE'.padStart(10)}  ${'PUSHED'.padEnd(24)}  KIND\n`);
      for (const row of described) io.out(formatTagRow(row, width) + '\n');
    }
    listed += described.length;
  }
  if (json) io.out(JSON.stringify({ repository, tags: rows }, null, 2) + '\n');
  else if (listed === 0) io.err.write(`ls: ${repository} has no tags\n`);
}

async function listRepositories(io: CliIo, source: LsSource, json: boolean): Promise<void> {
  const names: string[] = [];
  for await (const page of source.repositories()) {
    // Printed page by page: a catalog of thousands starts showing at once.
    if (json) names.push(...page);
    else io.out(page.map((n) => n + '\n').join(''));
  }
  if (json) io.out(JSON.stringify({ repositories: names }, null, 2) + '\n');
}

/** `berth ls [REPOSITORY]`: returns 0, or 1 (with one line on stderr) when the listing failed. */
export async function lsCommand(io: CliIo, command: Extract<Command, { name: 'ls' }>): Promise<number> {
  let source: LsSource;
  if (command.registry !== undefined) {
    const credentials = command.user !== undefined ? { user: command.user, password: command.password ?? '' } : undefined;
    source = new RegistryLsSource(command.registry, credentials);
  } else {
    const { config } = await loadConfigWithSource({ file: command.config, env: io.env });
    source = new StoreLsSource(await createStorageDriver(readOnly(config)));
  }
  try {
    if (command.repository === undefined) await listRepositories(io, source, command.json);
    else await listTags(io, source, command.repository, command.json);
    return 0;
  } catch (err) {
    if (err instanceof DomainError && err.kind === 'name-unknown') io.err.write(`ls: repository "${command.repository}" not found\n`);
    else if (err instanceof RegistryError) io.err.write(`ls: ${err.message}\n`);
    else throw err;
    return 1;
  }
}
