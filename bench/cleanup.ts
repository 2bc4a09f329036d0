import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Everything the run started, so that a normal end, an error and Ctrl-C all leave nothing behind.
 * Removal is synchronous because the `exit` event allows nothing else.
 */
export class Cleanup {
  private readonly children = new Set<ChildProcess>();
  private readonly dirs = new Set<string>();
  private installed = false;

  addChild(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }

  forgetChild(child: ChildProcess): void {
    this.children.delete(child);
  }

  addDir(dir: string): void {
    this.dirs.add(dir);
  }

  removeDir(dir: string): void {
    rmSync(dir, { recursive: true, force: true });
    this.dirs.delete(dir);
  }

  /** Kills what is still running and removes every directory; safe to call more than once. */
  runNow(): void {
    for (const child of this.children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    this.children.clear();
    for (const dir of this.dirs) rmSync(dir, { recursive: true, force: true });
    this.dirs.clear();
  }

  install(): void {
    if (this.installed) return;
    this.installed = true;
    process.on('exit', () => this.runNow());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        process.stderr.write(`\n${signal}: stopping servers and removing temp dirs\n`);
        this.runNow();
        process.exit(130);
      });
    }
  }
}
