import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';

/** One system call from `strace -f` output. */
export interface StraceCall {
  pid: string;
  name: string;
  args: string;
  result: string | null;
  /** Index in the trace where the call started and where its result was seen. */
  start: number;
  end: number;
}

/**
 * Parses `strace -f -y -qq -o FILE` output, joining `<unfinished ...>` calls with their `resumed`
 * halves. strace pads each pid to five columns, so the spaces after it vary with the pid's width.
 */
export function parseStrace(text: string): StraceCall[] {
  const calls: StraceCall[] = [];
  const pending = new Map<string, StraceCall>();
  text.split('\n').forEach((line, i) => {
    const resumed = /^(\d+) +<\.\.\. (\w+) resumed>.*\) += (.*)$/.exec(line);
    if (resumed) {
      const call = pending.get(resumed[1]);
      if (call) {
        call.result = resumed[3]!;
        call.end = i;
        pending.delete(resumed[1]);
      }
      return;
    }
    const started = /^(\d+) +(\w+)\((.*?)(?: <unfinished \.\.\.>|\) += (.*))$/.exec(line);
    if (!started) return;
    const call: StraceCall = { pid: started[1], name: started[2], args: started[3], result: started[4] ?? null, start: i, end: started[4] === undefined ? -1 : i };
    calls.push(call);
    if (started[4] === undefined) pending.set(call.pid, call);
  });
  return calls;
}

/** Why strace cannot run here, or null when it can. */
export function straceMissing(): string | null {
  const r = spawnSync('strace', ['-V'], { stdio: 'ignore' });
  if (r.status === 0) return null;
  return 'strace is not installed (apt-get install strace)';
}

export interface TracedRun {
  code: number | null;
  stderr: string;
  /** The raw trace, for messages that say what did not parse. */
  text: string;
  calls: StraceCall[];
}

/**
 * Runs `node -e script ...args` under `strace -f -y -qq -o traceFile`, `straceArgs` choosing what is
 * traced or injected, and parses the trace once strace has exited.
 */
export async function traceNode(script: string, args: string[], straceArgs: string[], traceFile: string): Promise<TracedRun> {
  const child = spawn('strace', ['-f', '-y', '-qq', ...straceArgs, '-o', traceFile, process.execPath, '-e', script, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  // 'close' comes after strace has exited (so its -o file is complete) and its stderr has drained.
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  const text = await readFile(traceFile, 'utf8');
  return { code, stderr, text, calls: parseStrace(text) };
}
