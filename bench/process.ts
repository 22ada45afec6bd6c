// One child process timed as a user would see it: wall time and the peak resident memory of the
// process with all its descendants (a shell running python counts as the python), summed and
// sampled every 20 ms.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

function treeRssKb(pid: number): number {
  let total = 0;
  try {
    total += Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      for (const child of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)) {
        total += treeRssKb(Number(child));
      }
    }
  } catch { /* it has just ended */ }
  return total;
}

export async function runMeasured(cmd: string, args: string[]): Promise<{ seconds: number; peakMb: number }> {
  const started = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  let peakKb = 0;
  const timer = setInterval(() => { peakKb = Math.max(peakKb, treeRssKb(child.pid!)); }, 20);
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${[cmd, ...args].join(' ')} exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, peakMb: peakKb / 1024 };
}
