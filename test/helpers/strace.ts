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
