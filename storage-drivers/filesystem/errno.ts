/** The errno code of a failed fs call (`ENOENT`, …), or undefined for other errors. */
export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Whether a failed fs call means the path does not exist (a missing component, or a file where a directory was expected). */
export function isMissing(err: unknown): boolean {
  const c = errnoCode(err);
  return c === 'ENOENT' || c === 'ENOTDIR';
}

/**
 * Whether `op` succeeded: false when it failed with one of the `tolerated` codes (an expected
 * outcome, such as EEXIST for a mkdir racing another), and its error rethrown for any other code.
 */
export async function succeeds(op: Promise<unknown>, ...tolerated: string[]): Promise<boolean> {
  try {
    await op;
    return true;
  } catch (err) {
    const c = errnoCode(err);
    if (c === undefined || !tolerated.includes(c)) throw err;
    return false;
  }
}

/** Names `file` on an fs error that has no path (calls on an open handle carry none), so that logs say where it happened. */
export function naming<E>(err: E, file: string): E {
  const e = err as NodeJS.ErrnoException | null;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.path === undefined) e.path = file;
  return err;
}
