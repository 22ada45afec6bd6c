// Runs the built `ptychopinn` command (dist/, as installed) in a child process.
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve('dist/lib/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  seconds: number;
}

export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', fail);
    child.on('close', (code) => done({ code: code ?? -1, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}
