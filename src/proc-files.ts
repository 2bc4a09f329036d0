import { readdir, readFile } from 'node:fs/promises';

/**
 * Field `n` of a /proc `stat` line, numbered as proc(5) numbers them (1 is the pid, 2 the command
 * name, 3 the state). The command name may hold spaces and parentheses; the fields after its last
 * `)` do not, so they are counted from there.
 */
export function statField(stat: string, n: number): string | undefined {
  if (n < 3) throw new RangeError('statField reads the fields after the command name (3 and up)');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[n - 3];
}

/**
 * The processes `pid` started that are alive, from every thread's `children` list (a child is listed
 * under the thread that forked it). Empty when the process is gone or this is not Linux.
 */
export async function childPids(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
  const found: number[] = [];
  for (const task of tasks) {
    const text = await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '');
    for (const child of text.split(' ').filter(Boolean)) found.push(Number(child));
  }
  return found;
}
