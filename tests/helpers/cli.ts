// Runs the built `ptychopinn` command (dist/, as installed) or node itself in a child process.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';

export const CLI = resolve('dist/lib/cli/bin.js');

export interface CliResult {
  code: number;
  /** The signal that ended the process, if one did. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with the child and each chunk of its stdout and stderr (e.g. to send it a signal). */
  onOutput?: (child: ChildProcess, text: string) => void;
  /** Called once the child exists (e.g. to signal it after a delay). */
  onSpawn?: (child: ChildProcess) => void;
}

export function runNode(args: string[], options: RunOptions = {}): Promise<CliResult> {
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: options.cwd, env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; options.onOutput?.(child, String(d)); });
    child.stderr.on('data', (d) => { stderr += d; options.onOutput?.(child, String(d)); });
    child.on('error', fail);
    options.onSpawn?.(child);
    child.on('close', (code, signal) => done({ code: code ?? -1, signal, stdout, stderr, seconds: (performance.now() - started) / 1000 }));
  });
}

export function runCli(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return runNode([CLI, ...args], options);
}
