// Small size-limited tmpfs mounts for the disk-full tests: a real file system that answers
// ENOSPC when full, grown again by a remount (the way an operator frees space). Mounting
// needs root; CI runs as root, and elsewhere the tests fail saying so.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, writeFileSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';

export class Tmpfs {
  private mounted = true;

  private constructor(readonly dir: string) {}

  /** Mounts a tmpfs of `sizeMiB` at `dir` (created if missing). */
  static mount(dir: string, sizeMiB: number): Tmpfs {
    if (process.getuid?.() !== 0)
      throw new Error(
        `the disk-full tests mount small tmpfs file systems and must run as root (uid is ${process.getuid?.()}); CI runs them as root`,
      );
    mkdirSync(dir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir]);
    return new Tmpfs(dir);
  }

  /** Changes the size limit (larger frees space, as deleting files would). */
  resize(sizeMiB: number): void {
    execFileSync('mount', ['-o', `remount,size=${sizeMiB}m`, this.dir]);
  }

  availableBytes(): number {
    const fs = statfsSync(this.dir);
    return fs.bavail * fs.bsize;
  }

  /**
   * Fills the file system with a file (someone else filling the disk) until at most
   * `leaveBytes` are left; returns its path. Writes in 1 MiB pieces, then smaller ones.
   */
  fill(leaveBytes = 0, name = 'filler'): string {
    const path = join(this.dir, name);
    writeFileSync(path, '');
    for (let piece = 1024 * 1024; piece >= 4096;) {
      if (this.availableBytes() - piece < leaveBytes) {
        piece /= 2;
        continue;
      }
      try {
        appendFileSync(path, Buffer.alloc(piece, 1));
      } catch {
        piece /= 2;
      }
    }
    return path;
  }

  unmount(): void {
    if (!this.mounted) return;
    this.mounted = false;
    execFileSync('umount', ['-l', this.dir]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
