// Inference through ONNX Runtime (onnxruntime-node), with no LibTorch: a bundle's model.onnx (or
// a graph built from its weights on the spot), or a standalone .onnx written by `export-onnx`.
// Grouping, scaling and stitching are the LibTorch backend's (lib/inference.ts); the stitch runs
// in JavaScript. Nothing here loads the addon.
import { readFile } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import type * as Ort from 'onnxruntime-node';
import * as z from 'zod';
import { checkExpectedModel, readBundle } from '../bundle.js';
import { type ModelConfig, type TrainingConfig, resolveModelConfig, resolveTrainingConfig } from '../config.js';
import { AbortedError, ArgumentError, PtychoPinnError } from '../errors.js';
import { type InferenceInput, amplitudeAndPhase, planInference } from '../inference.js';
import { chunkPatterns } from '../patterns.js';
import type { Reconstruction, ReconstructOptions } from '../model.js';
import type { ComplexArray } from '../ndarray.js';
import { CanvasSum } from '../stitching.js';
import type { OnnxSource } from './source.js';
import { isZipFile } from '../zip.js';
import { resolveThreads } from '../threads.js';
import { decodeNpy } from '../npy.js';
import { ONNX_FORMAT, ONNX_INPUT, ONNX_METADATA_KEY, ONNX_OUTPUTS, type OnnxMetadata, onnxFromBundle, onnxSchema } from './export.js';
import type { WorkerReply, WorkerRequest, WorkerSetup } from './worker.js';

/** A .onnx file or bundle ONNX Runtime cannot load or run: names the file. */
export class OnnxModelError extends PtychoPinnError {
  override name = 'OnnxModelError';
  constructor(readonly file: string, message: string, options?: { cause?: unknown }) {
    super('ERR_PTYCHOPINN_ONNX', `${file}: ${message}`, options);
  }
}

/** ONNX Runtime's graph optimisation level. */
export type GraphOptimization = 'disabled' | 'basic' | 'extended' | 'all';

/** How `OnnxModel.load` opens a model. */
export interface OnnxLoadOptions {
  /** Model fields the caller set explicitly: each must equal the model's (as for loadModel). */
  expected?: Partial<ModelConfig>;
  /** ONNX Runtime's graph optimisation level (default `all`). */
  graphOptimization?: GraphOptimization;
  /**
   * Further ONNX Runtime session options (memory arena, memory pattern, execution mode, ...), over
   * ours; the thread count comes from each call's `threads`.
   */
  sessionOptions?: Omit<Ort.InferenceSession.SessionOptions, 'intraOpNumThreads' | 'graphOptimizationLevel'>;
}

const MetadataSchema = z.object({
  format: z.literal(ONNX_FORMAT),
  formatVersion: z.literal(1),
  package: z.string(),
  config: z.object({ model: z.unknown(), training: z.unknown().optional() }),
  intensityScale: z.number().positive().refine(Number.isFinite, 'a finite number'),
  seed: z.number().int().min(0).max(2 ** 32 - 1),
  /** The training probe as an NPY file, base64. */
  probe: z.string().optional(),
});

/** A PtychoPINN network run by ONNX Runtime (on a worker thread), from a bundle or a .onnx file: needs no LibTorch. */
export class OnnxModel {
  /** The worker that holds ONNX Runtime's session, and the thread count it was made with. */
  private worker?: { thread: Worker; threads: number; failed?: Error };
  private readonly pending = new Map<number, { thread: Worker; resolve: (outputs: Float32Array[]) => void; reject: (error: Error) => void }>();
  private nextId = 0;

  private constructor(
    readonly file: string,
    readonly source: OnnxSource,
    private readonly bytes: Uint8Array,
    readonly config: ModelConfig,
    readonly intensityScale: number,
    readonly seed: number,
    readonly training: TrainingConfig | undefined,
    /** The training probe: a bundle's probe.npy, or the metadata of a .onnx (absent from others' graphs). */
    readonly probe: ComplexArray | undefined,
    private readonly options: OnnxLoadOptions,
  ) {}

  /**
   * A model for ONNX Runtime from a .ptpinn bundle (its model.onnx, else a graph built from its
   * weights) or from a .onnx file that `export-onnx` wrote.
   */
  static async load(path: string, options: OnnxLoadOptions = {}): Promise<OnnxModel> {
    let zip: boolean;
    try {
      zip = await isZipFile(path);
    } catch (error) {
      throw new OnnxModelError(path, `cannot read: ${(error as Error).message}`, { cause: error });
    }
    if (!zip) {
      const bytes = await readFile(path);
      const meta = readMetadata(path, bytes);
      const config = meta.config.model;
      checkExpectedModel(path, config, options.expected ?? {});
      const probe = meta.probe === undefined ? undefined : decodeNpy(Buffer.from(meta.probe, 'base64'), `${path}: metadata probe`) as ComplexArray;
      return new OnnxModel(path, 'onnx file', bytes, config, meta.intensityScale, meta.seed, meta.config.training, probe, options);
    }
    // the optimiser state of a resumable bundle is of no use here
    const contents = await readBundle(path, options.expected, { resume: false });
    const { state } = contents;
    return new OnnxModel(path, contents.onnx ? 'bundle' : 'built from weights', contents.onnx ?? onnxFromBundle(path, contents),
      state.config, state.intensityScale, state.seed, state.training, state.probe, options);
  }

  /** The ONNX graph's bytes (what `export-onnx` writes). */
  get onnx(): Uint8Array {
    return this.bytes;
  }

  private thread(threads: number): Worker {
    if (this.worker?.threads !== threads) {
      void this.worker?.thread.terminate();
      const setup: WorkerSetup = {
        model: this.bytes, input: ONNX_INPUT, outputs: [...ONNX_OUTPUTS],
        options: {
          interOpNumThreads: 1, executionMode: 'sequential', ...this.options.sessionOptions,
          intraOpNumThreads: threads, graphOptimizationLevel: this.options.graphOptimization ?? 'all',
        },
      };
      const thread = startWorker(setup);
      const worker: NonNullable<OnnxModel['worker']> = { thread, threads };
      thread.on('message', (reply: WorkerReply) => {
        const waiting = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (this.pending.size === 0) thread.unref();
        if ('error' in reply) waiting?.reject(new OnnxModelError(this.file, `ONNX Runtime: ${reply.error}`));
        else waiting?.resolve(reply.outputs);
      });
      thread.on('error', (error) => {
        worker.failed = error;
        this.rejectPending(thread, new OnnxModelError(this.file, `ONNX Runtime's thread failed: ${error.message}`, { cause: error }));
      });
      // a thread ended by release() or by a new thread count must not leave its callers waiting
      thread.on('exit', () => this.rejectPending(thread, new OnnxModelError(this.file, 'ONNX Runtime\'s thread ended (released, or replaced for another thread count) before answering')));
      // an idle model does not keep the process alive
      thread.unref();
      this.worker = worker;
    }
    if (this.worker.failed) throw new OnnxModelError(this.file, `ONNX Runtime's thread failed: ${this.worker.failed.message}`);
    return this.worker.thread;
  }

  /**
   * The network on a batch of groups: `diffraction` holds B x C x N x N measured amplitudes (the
   * graph divides by the intensity scale); returns complex (B, C, N, N) patches.
   */
  async predict(diffraction: Float32Array, batch: number, options: { threads?: number } = {}): Promise<ComplexArray> {
    const { N: n, gridsize } = this.config;
    const shape = [batch, gridsize ** 2, n, n];
    if (!Number.isInteger(batch) || batch < 1 || diffraction.length !== batch * gridsize ** 2 * n * n) {
      throw new ArgumentError(`predict needs ${shape.join(' x ')} amplitudes, got ${diffraction.length}`);
    }
    const { re, im } = await this.run(diffraction.slice(), shape, resolveThreads(options.threads));
    const data = new Float32Array(2 * re.length);
    interleaveInto(data, 0, re, im, 0, re.length);
    return { dtype: 'complex64', shape, data };
  }

  private rejectPending(thread: Worker, error: Error): void {
    for (const [id, waiting] of this.pending) {
      if (waiting.thread !== thread) continue;
      this.pending.delete(id);
      waiting.reject(error);
    }
  }

  /** Runs the graph on `x` (handed over to the worker: not usable afterwards). */
  private run(x: Float32Array, shape: number[], threads: number): Promise<{ re: Float32Array; im: Float32Array }> {
    const thread = this.thread(threads);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { thread, resolve: ([re, im]) => resolve({ re, im }), reject });
      thread.ref();
      thread.postMessage({ id, x, shape } satisfies WorkerRequest, [x.buffer as ArrayBuffer]);
    });
  }

  /**
   * The object of a dataset, as `PtychoPinnModel.reconstruct` makes it: the same groups, scale,
   * batches and stitch, the network run by ONNX Runtime in fp32. Phase alignment (`alignPhases`)
   * and bf16 need the LibTorch backend.
   */
  async reconstruct(dataset: InferenceInput, options: ReconstructOptions = {}): Promise<Reconstruction> {
    const { threads, seed, keepPatches, onProgress, signal, ...inference } = options;
    const plan = await planInference(this, dataset, { ...inference, seed });
    const { config, source, n, c, groups, nGroups, groupsPerBatch, scale, xcoords, ycoords, weights, canvas } = plan;
    if (config.alignPhases > 0) throw new ArgumentError('alignPhases needs the LibTorch backend; the ONNX backend averages the groups as they come');
    if (config.precision === 'bf16') throw new ArgumentError('precision bf16 needs the LibTorch backend; ONNX Runtime runs the network in fp32');
    const nThreads = resolveThreads(threads);
    const sum = new CanvasSum(canvas, weights, n);
    const patternSize = n * n;
    // the graph divides by the training scale; a rescaled inference divides by its own
    const factor = scale === this.intensityScale ? 1 : this.intensityScale / scale;
    const kept = keepPatches ? new Float32Array(2 * groups.length * patternSize) : undefined;
    for (let first = 0; first < nGroups; first += groupsPerBatch) {
      if (signal?.aborted) throw new AbortedError(first === 0 ? 'the reconstruction was aborted before it started' : 'the reconstruction was aborted: nothing was returned');
      const count = Math.min(groupsPerBatch, nGroups - first);
      const x = new Float32Array(count * c * patternSize);
      const chunk = chunkPatterns(groups.subarray(first * c, (first + count) * c), source.count);
      const read = await source.read(chunk.patterns);
      for (let m = 0; m < count * c; m++) {
        const from = chunk.groups[m] * patternSize;
        const pattern = read.subarray(from, from + patternSize);
        if (factor === 1) x.set(pattern, m * patternSize);
        else for (let k = 0; k < patternSize; k++) x[m * patternSize + k] = pattern[k] * factor;
      }
      const { re, im } = await this.run(x, [count, c, n, n], nThreads);
      for (let m = 0; m < count * c; m++) {
        const member = first * c + m;
        sum.add(re, im, m * patternSize, xcoords[member], ycoords[member]);
        if (kept) interleaveInto(kept, member * patternSize, re, im, m * patternSize, patternSize);
      }
      onProgress?.({ done: first + count, total: nGroups });
    }
    const object = sum.finish(1e-3);
    return {
      object, ...amplitudeAndPhase(object), origin: [canvas.originRow, canvas.originCol], patterns: groups, xcoords, ycoords,
      ...(kept ? { patches: { dtype: 'complex64' as const, shape: [nGroups, c, n, n], data: kept } } : {}),
      intensityScale: scale, precision: 'fp32',
    };
  }

  /** Ends ONNX Runtime's thread and frees its session now instead of at exit. */
  async release(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.thread.terminate();
  }
}

/**
 * The compiled worker when installed. From the TypeScript sources (tests, benchmarks under tsx) a
 * worker does not inherit tsx's loader, so a bootstrap registers it before importing the source.
 */
function startWorker(setup: WorkerSetup): Worker {
  try {
    import.meta.resolve('onnxruntime-node');
  } catch {
    // an optional dependency: its own install fetches GPU libraries from nuget.org, and where that
    // is out of reach npm leaves it out rather than fail the whole install
    throw new PtychoPinnError('ERR_PTYCHOPINN_ONNX', 'ONNX Runtime (onnxruntime-node, an optional dependency of ptychopinn) ' +
      'is not installed: its install downloads GPU libraries from api.nuget.org and fails where that cannot be reached. ' +
      '`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node` installs it without them (ONNX Runtime runs on the CPU here).');
  }
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData: setup });
  const tsx = import.meta.resolve('tsx/esm/api');
  const source = new URL('./worker.ts', import.meta.url).href;
  return new Worker(`import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(source)}); });`,
    { eval: true, workerData: setup });
}

/** Complex values (re, im interleaved) into `out` from element `at`, from `count` of re and im at `from`. */
function interleaveInto(out: Float32Array, at: number, re: Float32Array, im: Float32Array, from: number, count: number): void {
  for (let k = 0; k < count; k++) {
    out[2 * (at + k)] = re[from + k];
    out[2 * (at + k) + 1] = im[from + k];
  }
}

function readMetadata(path: string, bytes: Uint8Array): OnnxMetadata {
  let props: { key: string; value: string }[];
  try {
    const message = onnxSchema().lookupType('onnx.ModelProto').decode(bytes) as unknown as { metadataProps?: { key: string; value: string }[] };
    props = message.metadataProps ?? [];
  } catch (error) {
    throw new OnnxModelError(path, `not an ONNX model: ${(error as Error).message}`, { cause: error });
  }
  const raw = props.find((p) => p.key === ONNX_METADATA_KEY)?.value;
  if (raw === undefined) {
    throw new OnnxModelError(path, `an ONNX model without ptychopinn's metadata (metadata_props "${ONNX_METADATA_KEY}"): ` +
      'the intensity scale and gridsize are unknown; export it with `ptychopinn export-onnx`');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    throw new OnnxModelError(path, `metadata_props "${ONNX_METADATA_KEY}" is not JSON: ${(error as Error).message}`);
  }
  const checked = MetadataSchema.safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new OnnxModelError(path, `metadata_props "${ONNX_METADATA_KEY}": ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  try {
    const model = resolveModelConfig(checked.data.config.model, 'config.model');
    const training = checked.data.config.training === undefined ? undefined : resolveTrainingConfig(checked.data.config.training, 'config.training');
    return { ...checked.data, formatVersion: 1, config: { model, ...(training ? { training } : {}) } };
  } catch (error) {
    throw new OnnxModelError(path, `metadata_props "${ONNX_METADATA_KEY}" holds an invalid configuration: ${(error as Error).message}`);
  }
}
