import { readFile } from 'node:fs/promises';

/** A fenced ```sh block of a doc, and whether the doc marks it to be run by its test. */
export interface ShellBlock {
  /** 1-based line of the opening fence. */
  line: number;
  code: string;
  run: boolean;
  /** Why a `<!-- not run: ... -->` block is not run. */
  why?: string;
}

/**
 * The ```sh blocks of a Markdown file. The line before each must mark it `<!-- run -->` (the doc's
 * test runs it as written) or `<!-- not run: why -->`: an unmarked block throws, so that a command
 * added to a doc is either exercised or says why it cannot be here.
 */
export async function shellBlocks(file: string): Promise<ShellBlock[]> {
  const lines = (await readFile(file, 'utf8')).split('\n');
  const blocks: ShellBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== '```sh') continue;
    const end = lines.indexOf('```', i + 1);
    if (end < 0) throw new Error(`${file}:${i + 1}: unclosed sh block`);
    const marker = /^<!-- (run|not run: (.+)) -->$/.exec(lines[i - 1] ?? '');
    if (!marker) throw new Error(`${file}:${i + 1}: sh block without <!-- run --> or <!-- not run: why --> on the line before`);
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join('\n') + '\n', run: marker[1] === 'run', why: marker[2] });
    i = end;
  }
  return blocks;
}
