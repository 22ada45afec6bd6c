// One fuzz worker: builds valid seed files, then for each case number mutates one of them (seeded
// by the case number, so any case reruns alone) and feeds it to its reader. Reports each case to
// the parent before and after, so a crash or a hang is pinned to its case.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, readManifest, saveModel } from '../../lib/bundle.js';
import { PtychoPinnError } from '../../lib/errors.js';
import { PtychoPinnModel } from '../../lib/model.js';
import { decodeNpy, encodeNpy } from '../../lib/npy.js';
import { NpzFile, writeNpz } from '../../lib/npz.js';
import { Rng } from '../../lib/random.js';
import { decodeSafetensors, encodeSafetensors } from '../../lib/safetensors.js';
import { readFileSync } from 'node:fs';

const [start, end, seed] = process.argv.slice(2).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'ptpinn-fuzz-'));
const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength)));

async function seeds(): Promise<Record<string, Uint8Array>> {
  const f32 = { dtype: 'float32' as const, shape: [3, 4], data: Float32Array.from({ length: 12 }, (_, i) => i / 3) };
  const c64 = { dtype: 'complex64' as const, shape: [2, 2], data: Float32Array.from({ length: 8 }, (_, i) => i) };
  const i16 = { dtype: 'int16' as const, shape: [5], data: Int16Array.from([1, -2, 3, -4, 5]) };
  const npz = join(dir, 'seed.npz');
  const n = 64;
  await writeNpz(npz, {
    diffraction: { dtype: 'float32', shape: [2, n, n], data: new Float32Array(2 * n * n).fill(1) },
    probeGuess: { dtype: 'complex64', shape: [n, n], data: new Float32Array(2 * n * n).fill(0.5) },
    xcoords: { dtype: 'float64', shape: [2], data: Float64Array.of(40, 44) },
    ycoords: { dtype: 'float64', shape: [2], data: Float64Array.of(40, 41) },
  }, { compress: true });
  const model = new PtychoPinnModel({
    config: { N: 64, gridsize: 1, nFiltersScale: 1, ampActivation: 'silu', probeBig: true, objectBig: true, probeMask: false, memberNetwork: 'joint' },
    probe: { dtype: 'complex64', shape: [n, n], data: new Float32Array(2 * n * n).fill(0.5) }, intensityScale: 1, seed: 1,
  });
  const bundle = join(dir, 'seed.ptpinn');
  await saveModel(model, bundle);
  model.dispose();
  return {
    npy: concat([encodeNpy(f32)]), npyComplex: concat([encodeNpy(c64)]), npyInt: concat([encodeNpy(i16)]),
    safetensors: concat(encodeSafetensors([{ name: 'a.weight', shape: [2, 3], data: new Float32Array(6).fill(1) }, { name: 'b', shape: [1], data: Float32Array.of(2) }])),
    npz: readFileSync(npz), bundle: readFileSync(bundle),
  };
}

const INTERESTING = [0, 0xff, 0x7f, 0x80, 0x20, 0x30, 0x39, 0x5b, 0x7b, 0x22];

function mutate(input: Uint8Array, rng: Rng): { bytes: Uint8Array; how: string } {
  const bytes = Buffer.from(input);
  const at = () => rng.int(Math.max(1, bytes.length));
  const kind = rng.int(7);
  const count = 1 + rng.int(4);
  const done: string[] = [];
  let out: Buffer = bytes;
  for (let k = 0; k < count; k++) {
    const i = at();
    switch (kind) {
      case 0: out[i] ^= 1 << rng.int(8); done.push(`flip@${i}`); break;
      case 1: out[i] = INTERESTING[rng.int(INTERESTING.length)]; done.push(`set@${i}`); break;
      case 2: out = out.subarray(0, i); done.push(`truncate@${i}`); k = count; break;
      case 3: out = Buffer.concat([out, out.subarray(i, i + 1 + rng.int(64))]); done.push(`extend@${i}`); break;
      case 4: if (i + 4 <= out.length) out.writeUInt32LE([0, 0xffffffff, 0x7fffffff, 0x80000000, out.length * 2][rng.int(5)] >>> 0, i); done.push(`u32@${i}`); break;
      case 5: if (i + 8 <= out.length) out.writeBigUInt64LE([0n, 0xffffffffffffffffn, 1n << 40n][rng.int(3)], i); done.push(`u64@${i}`); break;
      default: {
        // JSON-ish edits in headers: a digit or a bracket somewhere in the first 256 bytes
        const j = rng.int(Math.min(out.length, 256));
        out[j] = '0123456789-[]{}"e,:'.charCodeAt(rng.int(19));
        done.push(`text@${j}`);
      }
    }
  }
  return { bytes: out, how: done.join(' ') };
}

const READERS = ['npy', 'npyComplex', 'npyInt', 'safetensors', 'npz', 'manifest', 'bundle'] as const;

async function run(reader: (typeof READERS)[number], bytes: Uint8Array): Promise<void> {
  switch (reader) {
    case 'npy': case 'npyComplex': case 'npyInt': decodeNpy(bytes, 'fuzz.npy'); return;
    case 'safetensors': decodeSafetensors(bytes, 'fuzz.safetensors'); return;
    case 'npz': {
      const path = join(dir, 'case.npz');
      writeFileSync(path, bytes);
      const npz = await NpzFile.open(path);
      try {
        for (const key of npz.keys) await npz.read(key);
      } finally {
        await npz.close();
      }
      return;
    }
    case 'manifest': case 'bundle': {
      const path = join(dir, 'case.ptpinn');
      writeFileSync(path, bytes);
      if (reader === 'manifest') await readManifest(path);
      else (await loadModel(path)).dispose();
    }
  }
}

const base = await seeds();
for (let c = start; c < end; c++) {
  const rng = new Rng((seed ^ Math.imul(c, 0x9e3779b1)) >>> 0);
  // model loads build a network each (~50 ms): one case in 20
  const reader = rng.int(20) === 0 ? 'bundle' : READERS[rng.int(READERS.length - 1)];
  const source = reader === 'manifest' ? base.bundle : base[reader];
  const { bytes, how } = mutate(source, rng);
  process.send!({ case: c, started: true });
  let outcome: 'ok' | 'clean' | 'finding' = 'ok';
  let detail = '';
  try {
    await run(reader, bytes);
  } catch (error) {
    if (error instanceof PtychoPinnError) outcome = 'clean';
    else {
      outcome = 'finding';
      detail = `${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`;
    }
  }
  process.send!({ case: c, outcome, reader, how, detail, rss: process.memoryUsage().rss });
}
process.send!({ done: true }, () => process.exit(0));
