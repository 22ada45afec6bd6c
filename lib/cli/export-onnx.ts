// `ptychopinn export-onnx`: a trained model as an ONNX graph for ONNX Runtime and other runtimes.
// Needs no LibTorch: the graph is built from the bundle's weights.
import type { Command } from 'commander';
import { readBundle } from '../bundle.js';
import { ONNX_INPUT, ONNX_OPSET, ONNX_OUTPUTS, onnxFromBundle, writeOnnxModel } from '../onnx/export.js';
import { UsageError, bundlePath } from './common.js';
import { Reporter } from './reporter.js';

interface ExportFlags {
  model_path: string;
  output: string;
  quiet?: boolean;
}

export function registerExportOnnx(program: Command): void {
  program.command('export-onnx')
    .description('write a trained model as an ONNX graph (opset 17) for ONNX Runtime; needs no LibTorch')
    .requiredOption('--model_path <path>', 'a .ptpinn bundle, or a training output folder holding model.ptpinn')
    .requiredOption('--output <file>', 'the .onnx file to write')
    .option('--quiet', 'print nothing but errors')
    .action(async (flags: ExportFlags) => runExport(flags));
}

async function runExport(flags: ExportFlags): Promise<void> {
  const path = bundlePath(flags.model_path);
  if (flags.output === '') throw new UsageError('--output is empty: name the .onnx file to write');
  const report = new Reporter({ quiet: flags.quiet });
  const contents = await readBundle(path, {}, { resume: false });
  const { state } = contents;
  const bytes = onnxFromBundle(path, contents);
  await writeOnnxModel(flags.output, bytes);
  const { N: n, gridsize } = state.config;
  const c = gridsize ** 2;
  report.info(`wrote ${flags.output} (${(bytes.length / 1e6).toFixed(1)} MB, ONNX opset ${ONNX_OPSET}) from ${path}`);
  report.info(`input ${ONNX_INPUT}: float32 (batch, ${c}, ${n}, ${n}) measured amplitudes (divided by the intensity scale ${state.intensityScale.toPrecision(6)} inside)`);
  report.info(`outputs ${ONNX_OUTPUTS.join(', ')}: float32 (batch, ${c}, ${n}, ${n}), the complex object patches`);
  report.info(`run it: ptychopinn infer --backend onnx --model_path ${flags.output} ...; or in Python: ` +
    `onnxruntime.InferenceSession('${flags.output}').run(None, {'${ONNX_INPUT}': x})`);
}
