/** The errno code of a failed fs call (`ENOENT`, …), or undefined for other errors. */
export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

/** Whether a failed fs call means the path does not exist (a missing component, or a file where a directory was expected). */
export function isMissing(err: unknown): boolean {
  const c = errnoCode(err);
  return c === 'ENOENT' || c === 'ENOTDIR';
}
