// Nothing a user owns is ever left half-written.
import { randomBytes } from 'node:crypto';
import { rename, unlink } from 'node:fs/promises';

/**
 * Runs `write` on a temporary name in the same folder and renames it to `path` only once complete,
 * so `path` never holds a half-written file; the temporary file is removed on failure.
 */
export async function writeAtomically(path: string, write: (tempPath: string) => Promise<void>): Promise<void> {
  const temp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    await write(temp);
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw err;
  }
}

