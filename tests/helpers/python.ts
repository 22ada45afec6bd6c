// Finds a Python with the modules an interop test needs: env PYTHON, then /usr/bin/python3, then
// python3. The README's development set-up installs numpy and safetensors for python3.

import { execFileSync } from 'node:child_process';

const found = new Map<string, string | null>();

export function findPython(modules: string[]): string | null {
  const key = modules.join(',');
  if (found.has(key)) return found.get(key)!;
  const candidates = [process.env.PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  let python: string | null = null;
  for (const candidate of candidates) {
    try {
      execFileSync(candidate, ['-c', `import ${key}`], { stdio: 'ignore', timeout: 20_000 });
      python = candidate;
      break;
    } catch {
      // not installed, or without the modules: try the next one
    }
  }
  found.set(key, python);
  return python;
}

export const findPythonWithNumpy = (): string | null => findPython(['numpy']);

/** Runs a Python script with arguments and returns its stdout (throws with stderr on failure). */
export function runPython(python: string, script: string, args: string[]): string {
  return execFileSync(python, ['-c', script, ...args], { encoding: 'utf8', timeout: 60_000, maxBuffer: 1 << 24 });
}
