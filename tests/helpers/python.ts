// Finds a Python with NumPy for the interop tests: env PYTHON, then /usr/bin/python3, then python3.

import { execFileSync } from 'node:child_process';

let found: string | null | undefined;

export function findPythonWithNumpy(): string | null {
  if (found !== undefined) return found;
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  found = null;
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', 'import numpy'], { stdio: 'ignore', timeout: 20_000 });
      found = python;
      break;
    } catch {
      // not installed, or no numpy: try the next one
    }
  }
  return found;
}

/** Runs a Python script with arguments and returns its stdout (throws with stderr on failure). */
export function runPython(python: string, script: string, args: string[]): string {
  return execFileSync(python, ['-c', script, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 24 });
}
