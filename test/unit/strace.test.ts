import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStrace } from '../helpers/strace';

/*
 * strace -f -o FILE prints each line's pid with "%-5u ", so a pid below 10000 (any pid on a machine
 * that booted recently, or in a new pid namespace) is followed by several spaces, a larger one by one.
 */
const trace = [
  '812   openat(AT_FDCWD</w>, "/r/~tmp-1", O_WRONLY|O_CREAT|O_EXCL|O_DSYNC|O_CLOEXEC, 0666) = 18</r/~tmp-1>',
  '813   fsync(19</r> <unfinished ...>',
  '7     write(2<socket:[23738]>, "MARK\\n", 5) = 5',
  '813   <... fsync resumed>)              = 0',
  '1234567 rename("/r/~tmp-1", "/r/link") = 0',
  '15883 write(2<pipe:[18058]>, "MARK-2\\n", 7) = -1 EAGAIN (Resource temporarily unavailable)',
  '812   --- SIGCHLD {si_signo=SIGCHLD} ---',
  '',
].join('\n');

test('parses calls whatever the width of their pid, joining unfinished calls with their results', () => {
  assert.deepEqual(parseStrace(trace), [
    { pid: '812', name: 'openat', args: 'AT_FDCWD</w>, "/r/~tmp-1", O_WRONLY|O_CREAT|O_EXCL|O_DSYNC|O_CLOEXEC, 0666', result: '18</r/~tmp-1>', start: 0, end: 0 },
    { pid: '813', name: 'fsync', args: '19</r>', result: '0', start: 1, end: 3 },
    { pid: '7', name: 'write', args: '2<socket:[23738]>, "MARK\\n", 5', result: '5', start: 2, end: 2 },
    { pid: '1234567', name: 'rename', args: '"/r/~tmp-1", "/r/link"', result: '0', start: 4, end: 4 },
    { pid: '15883', name: 'write', args: '2<pipe:[18058]>, "MARK-2\\n", 7', result: '-1 EAGAIN (Resource temporarily unavailable)', start: 5, end: 5 },
  ]);
});
