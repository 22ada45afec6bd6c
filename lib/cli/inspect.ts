// `ptychopinn inspect FILE`: what a dataset or a model bundle holds, without LibTorch.
import type { Command } from 'commander';
import { verifyBundle } from '../bundle.js';
import { loadDataset } from '../dataset.js';
import { shapeText } from '../ndarray.js';
import { ONNX_INPUT, ONNX_OUTPUTS } from '../onnx/export.js';
import { OnnxModel } from '../onnx/model.js';
import { NpzFile } from '../npz.js';
import { PtychoPinnError } from '../errors.js';

export function registerInspect(program: Command): void {
  program.command('inspect')
    .description('describe a dataset (.npz), a model bundle (.ptpinn) or an exported .onnx; needs no LibTorch')
    .argument('<file>', 'the file to describe')
    .action(async (file: string) => runInspect(file));
}

async function runInspect(file: string): Promise<void> {
  if (file.toLowerCase().endsWith('.onnx')) {
    const model = await OnnxModel.load(file);
    const { N: n, gridsize } = model.config;
    console.log(`${file}: ONNX model (${(model.onnx.length / 1e6).toFixed(1)} MB) exported by ptychopinn`);
    console.log(`network: N = ${n}, gridsize ${gridsize}, n_filters_scale ${model.config.nFiltersScale}, amp_activation ${model.config.ampActivation}, probe_big ${model.config.probeBig}`);
    console.log(`input ${ONNX_INPUT} (batch, ${gridsize ** 2}, ${n}, ${n}); outputs ${ONNX_OUTPUTS.join(', ')} (batch, ${gridsize ** 2}, ${n}, ${n}); intensity scale ${model.intensityScale}, seed ${model.seed}`);
    if (model.training) console.log(`training: ${JSON.stringify(model.training)}`);
    return;
  }
  const npz = await NpzFile.open(file);
  const isBundle = npz.members.includes('manifest.json');
  if (isBundle) {
    npz.close();
    const m = await verifyBundle(file);
    const model = m.config.model;
    console.log(`${file}: ptychopinn model bundle, format ${m.formatVersion}, written by ptychopinn ${m.package.version} with LibTorch ${m.libtorch} on ${m.created}`);
    console.log(`network: N = ${model.N}, gridsize ${model.gridsize}, n_filters_scale ${model.nFiltersScale}, amp_activation ${model.ampActivation}, ` +
      `probe_big ${model.probeBig}, object_big ${model.objectBig}, probe_mask ${model.probeMask}, member_network ${model.memberNetwork}; ${m.parameterCount.toLocaleString('en')} parameters`);
    console.log(`intensity scale ${m.intensityScale}, seed ${m.seed}`);
    if (m.config.training) console.log(`training: ${JSON.stringify(m.config.training)}`);
    const h = m.history;
    if (h) console.log(`history: ${h.epochLoss.length} epoch(s), ${h.stop}, final loss ${h.epochLoss.at(-1) ?? '-'}, ${h.seconds.toFixed(1)} s`);
    for (const [name, e] of Object.entries(m.entries)) console.log(`  ${name}: ${e.size} bytes, sha256 ${e.sha256} (verified)`);
    if (m.resume) console.log(`resumable: stopped after epoch ${m.resume.epoch}, batch ${m.resume.batch} (train --resume continues it)`);
    return;
  }
  try {
    console.log(`${file}: ${npz.members.length} member(s)`);
    for (const key of npz.keys) {
      const info = await npz.info(key);
      console.log(`  ${key}: ${info.dtype} ${shapeText(info.shape)}${info.compressed ? ', deflated' : ''}`);
    }
    for (const other of npz.members.filter((m) => !m.endsWith('.npy'))) console.log(`  ${other}: not an array`);
  } finally {
    npz.close();
  }
  try {
    const d = await loadDataset(file, { onWarning: (w) => console.log(`warning: ${w}`) });
    const [n, N] = d.diffraction.shape;
    const range = (a: Float64Array) => `${a.reduce((m, v) => Math.min(m, v), Infinity).toFixed(1)} to ${a.reduce((m, v) => Math.max(m, v), -Infinity).toFixed(1)}`;
    let total = 0;
    for (const v of d.diffraction.data) total += v * v;
    console.log(`dataset: ${n} patterns of ${N} x ${N}; x ${range(d.xcoords)}, y ${range(d.ycoords)} (object pixels); ` +
      `mean photons per pattern ${(total / n).toPrecision(4)}${d.objectGuess ? `; objectGuess ${shapeText(d.objectGuess.shape)}` : ''}`);
  } catch (error) {
    throw new PtychoPinnError((error as PtychoPinnError).code ?? 'ERR_PTYCHOPINN_DATASET', `not a usable dataset: ${(error as Error).message}`, { cause: error });
  }
}
