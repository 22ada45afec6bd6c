// Nothing a user owns is ever left half-written.
import { randomBytes } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * Runs `write` on a temporary name in the same folder and renames it to `path` only once complete,
 * so `path` never holds a half-written file; the temporary file is removed on failure.
 */
export async function writeAtomically(path: string, write: (tempPath: string) => Promise<void>): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  pending.add(temp);
  try {
    await write(temp);
    // on disk before the rename makes it visible: a crash then leaves the old file or the new one
    const file = await open(temp, 'r+');
    try {
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    // the rename itself is durable once the folder is synced (best effort: not every file system allows it)
    const folder = await open(dirname(path), 'r').catch(() => undefined);
    await folder?.sync().catch(() => undefined);
    await folder?.close();
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  } finally {
    pending.delete(temp);
  }
}

const pending = new Set<string>();

/** Removes the temporary files of writes still in progress: for a process about to exit. */
export function removePendingTemps(): void {
  for (const temp of pending) {
    try {
      unlinkSync(temp);
    } catch {
      // never created, or already gone
    }
  }
  pending.clear();
}

