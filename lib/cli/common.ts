// What every command shares: flag spelling, value parsers, usage errors and exit codes.
import { InvalidArgumentError } from 'commander';
import { constants, existsSync, statSync } from 'node:fs';
import { access, mkdir, statfs } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type * as z from 'zod';
import { addon } from '../binding.js';
import { ConfigError, parseConfig } from '../config.js';
import { PtychoPinnError } from '../errors.js';

/** A mistake in how the command was called: exit code 2. */
export class UsageError extends PtychoPinnError {
  override name = 'UsageError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PTYCHOPINN_USAGE', message, { cause: options?.cause, exitCode: 2 });
  }
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

/**
 * A flag's parser from its field's schema: the value as a number when it reads as one, checked by
 * the schema, so the message is the schema's ("--batch_size must be an integer ...").
 */
export function schemaValue(field: z.ZodType, flag: string) {
  return (value: string): unknown => {
    const number = value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value;
    try {
      return parseConfig(field, number, '');
    } catch (error) {
      if (error instanceof ConfigError) throw new InvalidArgumentError(`--${flag} ${error.detail.replace(/got (.*)$/, `got '${value}'`)}`);
      throw error;
    }
  };
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

/**
 * --device and --accelerator: the CPU always; CUDA is refused, saying whether this LibTorch has
 * it. The ONNX backend runs on the CPU and is refused without asking the addon, which it never loads.
 */
export function checkDevice(device: string | undefined, accelerator: string | undefined, backend: 'torch' | 'onnx' = 'torch'): void {
  const wanted = [device, accelerator === 'auto' ? undefined : accelerator].find((d) => d === 'cuda' || d === 'gpu');
  if (wanted) {
    if (backend === 'onnx') throw new UsageError(`--device ${wanted}: --backend onnx runs on the CPU`);
    const { binding } = addon();
    throw new UsageError(binding.cudaAvailable
      ? '--device cuda: CUDA is not supported yet by ptychopinn; use --device cpu'
      : `--device cuda: the LibTorch this addon was built against (${binding.torchVersion}) has no CUDA (or sees no GPU); use --device cpu`);
  }
}

// proc, sysfs, cgroup, debugfs: writing there changes the kernel's state or blocks, never stores
const PSEUDO_FILE_SYSTEMS = new Set([0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720]);

/**
 * Creates the output folder and checks that files can be made in it. An empty name, a file of
 * that name, a kernel pseudo file system or a folder without write permission is a usage error.
 */
export async function outputFolder(given: string, flag = 'output_dir'): Promise<string> {
  // resolve('') is the current folder: an empty name must not become "here"
  if (given.trim() === '') throw new UsageError(`--${flag} is empty: name the folder for the outputs`);
  const dir = resolve(given);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--${flag} ${dir} is a file, expected a folder`);
  // the nearest existing ancestor decides the file system
  let probe = dir;
  while (!existsSync(probe)) probe = join(probe, '..');
  if (PSEUDO_FILE_SYSTEMS.has(Number((await statfs(probe)).type))) {
    throw new UsageError(`--${flag} ${dir} lies on a kernel pseudo file system (${probe}); choose a folder on a disk`);
  }
  try {
    await mkdir(dir, { recursive: true });
    await access(dir, constants.W_OK);
  } catch (error) {
    throw new UsageError(`--${flag} ${dir} cannot be written: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  return dir;
}


/** --model_path: a bundle, or a training output folder that holds model.ptpinn. */
export function bundlePath(path: string): string {
  if (path === '') throw new UsageError('--model_path is empty: name a .ptpinn bundle or a training output folder');
  if (!existsSync(path)) throw new UsageError(`--model_path ${path} does not exist`);
  if (statSync(path).isDirectory()) {
    const inside = join(path, 'model.ptpinn');
    if (!existsSync(inside)) throw new UsageError(`--model_path ${path} is a folder without model.ptpinn`);
    return inside;
  }
  return path;
}

export const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
