// One child process timed as a user would see it: wall time and peak resident memory (VmHWM of
// the process, sampled every 20 ms).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';

export async function runMeasured(cmd: string, args: string[]): Promise<{ seconds: number; peakMb: number }> {
  const started = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  let peakKb = 0;
  const timer = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0));
    } catch { /* it has just ended */ }
  }, 20);
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${[cmd, ...args].join(' ')} exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, peakMb: peakKb / 1024 };
}
