// What every command shares: flag spelling, value parsers, usage errors and exit codes.
import { InvalidArgumentError } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { addon } from '../binding.js';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

// Other names of canonical flags (the reference's and ours), after kebab-case became snake_case.
const ALIASES: Record<string, string> = {
  n_groups: 'n_images',
  torch_loss_mode: 'loss_mode',
  epochs: 'max_epochs',
};

/**
 * Every flag in kebab-case or snake_case, and the aliases above, become the canonical snake_case
 * name; negations keep commander's `--no-` prefix. Values are left alone, and so is everything
 * after `--`.
 */
export function normalizeFlags(argv: string[]): string[] {
  const end = argv.indexOf('--');
  return argv.map((arg, i) => {
    if (end >= 0 && i > end) return arg;
    const m = /^--(no[-_])?([A-Za-z][\w-]*)(=.*)?$/.exec(arg);
    if (!m) return arg;
    const name = m[2].replace(/-/g, '_');
    return `--${m[1] ? 'no-' : ''}${ALIASES[name] ?? name}${m[3] ?? ''}`;
  });
}

export function integer(flag: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^[+-]?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) {
      throw new InvalidArgumentError(`--${flag} takes an integer of at least ${min}, got '${value}'`);
    }
    return n;
  };
}

export function positiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`--${flag} takes a positive number, got '${value}'`);
    }
    return n;
  };
}

export function nonNegativeNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
      throw new InvalidArgumentError(`--${flag} takes a number of at least 0, got '${value}'`);
    }
    return n;
  };
}

/** --device and --accelerator: the CPU always; CUDA only where this LibTorch has it. */
export function checkDevice(device: string | undefined, accelerator: string | undefined): void {
  const wanted = [device, accelerator === 'auto' ? undefined : accelerator].filter(Boolean);
  if (wanted.includes('cuda') || wanted.includes('gpu')) {
    const { binding } = addon();
    throw new UsageError(binding.cudaAvailable
      ? '--device cuda: CUDA is not supported yet by ptychopinn; use --device cpu'
      : `--device cuda: the LibTorch this addon was built against (${binding.torchVersion}) has no CUDA (or sees no GPU); use --device cpu`);
  }
}

/** Creates the output folder; an existing file of that name is an error. */
export async function outputFolder(dir: string, flag = 'output_dir'): Promise<string> {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--${flag} ${dir} is a file, expected a folder`);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** --model_path: a bundle, or a training output folder that holds model.ptpinn. */
export function bundlePath(path: string): string {
  if (!existsSync(path)) throw new UsageError(`--model_path ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const inside = join(path, 'model.ptpinn');
    if (!existsSync(inside)) throw new UsageError(`--model_path ${path} is a folder without model.ptpinn`);
    return inside;
  }
  return path;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
