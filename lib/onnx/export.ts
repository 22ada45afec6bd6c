// The trained network as an ONNX graph (opset 17), built from the architecture of SPEC section 5
// and the weights by name, with no LibTorch: a bundle exports on a machine without the addon, and
// ONNX Runtime (Node, Python, C++, Triton) runs the result. The protobuf encoding is protobufjs's
// over the ONNX project's own schema (onnx.proto3, vendored beside this file).
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type protobuf from 'protobufjs';
import { writeAtomically } from '../atomic.js';
import { packageRoot } from '../binding.js';
import { BundleError, type BundleContents } from '../bundle.js';
import type { ModelConfig, TrainingConfig } from '../config.js';
import type { ComplexArray } from '../ndarray.js';
import type { InputNorm } from '../model.js';
import { encodeNpyParts } from '../npy.js';
import { ArgumentError } from '../errors.js';
import type { NamedTensor } from '../safetensors.js';
import { version } from '../version.js';

/** The operator set the graph uses: 17, what ONNX Runtime and the onnx checker of today expect. */
export const ONNX_OPSET = 17;
/** The IR version that opset 17 belongs to. */
const IR_VERSION = 8;
/** metadata_props key of what a reconstruction needs besides the network (JSON). */
export const ONNX_METADATA_KEY = 'ptychopinn';
export const ONNX_FORMAT = 'ptychopinn-onnx';
export const ONNX_INPUT = 'diffraction';
export const ONNX_OUTPUTS = ['real', 'imag'] as const;

/** What an exported graph carries besides the network: enough to group, scale and stitch. */
export interface OnnxMetadata {
  format: typeof ONNX_FORMAT;
  formatVersion: 1;
  package: string;
  config: { model: ModelConfig; training?: TrainingConfig };
  /** The intensity scale s: the graph divides its input by it. */
  intensityScale: number;
  /** The training seed: the default grouping seed at gridsize > 1. */
  seed: number;
  /** The training probe (refined, with probeTrainable) as an NPY file, base64: for probe weights and refinement. */
  probe?: string;
}

/** What an ONNX graph is built from: the configuration, the weights by name and the metadata. */
export interface OnnxExportInput {
  config: ModelConfig;
  training?: TrainingConfig;
  probe?: ComplexArray;
  /** The network's weights by parameter name (a bundle's weights.safetensors). */
  weights: NamedTensor[];
  intensityScale: number;
  /** The input standardisation the network was trained with, applied inside the graph. */
  inputNorm?: InputNorm;
  seed: number;
}

let schema: protobuf.Root | undefined;

/** The ONNX protobuf schema, parsed once, on first use: most commands never need protobufjs. */
export function onnxSchema(): protobuf.Root {
  if (!schema) {
    const { loadSync } = createRequire(import.meta.url)('protobufjs') as typeof protobuf;
    schema = loadSync(join(packageRoot(), 'lib', 'onnx', 'onnx.proto3'));
  }
  return schema;
}

// TensorProto.DataType and AttributeProto.AttributeType values of onnx.proto3
const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

// the graph needs integer, integer-list and string attributes only
type Attribute = number | string | number[];

interface Node {
  opType: string;
  input: string[];
  output: string[];
  name: string;
  attribute: object[];
}

function attribute(name: string, value: Attribute): object {
  if (typeof value === 'string') return { name, type: ATTR_STRING, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: ATTR_INTS, ints: value };
  if (!Number.isInteger(value)) throw new ArgumentError(`attribute ${name}: ${value} is not an integer`);
  return { name, type: ATTR_INT, i: value };
}

/** Nodes and initialisers in the order they are made (topological by construction). */
class Graph {
  readonly nodes: Node[] = [];
  readonly initializers: object[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(private readonly weights: Map<string, NamedTensor>) {}

  /** A weight of the network as an initialiser, its shape checked against the architecture's. */
  weight(name: string, shape: number[]): string {
    const t = this.weights.get(name);
    if (!t) throw new ArgumentError(`the weights lack ${name} (${shape.join(' x ')}), which this network needs`);
    if (t.shape.join() !== shape.join()) {
      throw new ArgumentError(`weight ${name} is ${t.shape.join(' x ')}, this network needs ${shape.join(' x ')}`);
    }
    this.used.add(name);
    this.floats(name, shape, t.data);
    return name;
  }

  floats(name: string, dims: number[], data: Float32Array): string {
    const raw = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: raw });
    return name;
  }

  int64s(name: string, values: number[]): string {
    const raw = Buffer.alloc(8 * values.length);
    for (const [i, v] of values.entries()) raw.writeBigInt64LE(BigInt(v), 8 * i);
    this.initializers.push({ name, dims: [values.length], dataType: INT64, rawData: raw });
    return name;
  }

  op(opType: string, input: string[], attributes: Record<string, Attribute> = {}, output = `${opType.toLowerCase()}_${this.counter++}`): string {
    this.nodes.push({
      opType, input, output: [output], name: output,
      attribute: Object.entries(attributes).map(([k, v]) => attribute(k, v)),
    });
    return output;
  }

  unused(): string[] {
    return [...this.weights.keys()].filter((k) => !this.used.has(k));
  }
}

/** The network's graph, node for node as native/network.cc runs it. */
function buildGraph(g: Graph, config: ModelConfig, input: string): void {
  const f = config.nFiltersScale;
  const c = config.gridsize ** 2;
  // member_network shared: the group's C patterns as a batch of single-pattern inputs
  const shared = config.memberNetwork === 'shared' && c > 1;
  const cnet = shared ? 1 : c;
  const depth = Math.round(Math.log2(config.N)) - 3;
  const outer = (32 * f) / 8;
  const scales = g.floats('upsample_scales', [4], Float32Array.of(1, 1, 2, 2));
  const conv = (x: string, prefix: string, cin: number, cout: number) => g.op('Conv', [x,
    g.weight(`${prefix}.weight`, [cout, cin, 3, 3]), g.weight(`${prefix}.bias`, [cout])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] });
  const block = (x: string, prefix: string, cin: number, cout: number) =>
    g.op('Relu', [conv(g.op('Relu', [conv(x, `${prefix}.conv1`, cin, cout)]), `${prefix}.conv2`, cout, cout)]);
  // torch's nearest x2 is ONNX's nearest with asymmetric coordinates rounded down
  const upsample = (x: string) => g.op('Resize', [x, '', scales],
    { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  const silu = (x: string) => g.op('Mul', [x, g.op('Sigmoid', [x])]);
  const channels = (x: string, from: number, to: number, name: string) => g.op('Slice', [x,
    g.int64s(`${name}_starts`, [from]), g.int64s(`${name}_ends`, [to]), g.int64s(`${name}_axes`, [1])]);

  let x = shared ? g.op('Reshape', [input, g.int64s('members_as_batch', [-1, 1, config.N, config.N])]) : input;
  let cin = cnet;
  for (let i = 0; i < depth; i++) {
    const cout = (128 * f) >> (depth - 1 - i);
    x = g.op('MaxPool', [block(x, `encoder.blocks.${i}`, cin, cout)], { kernel_shape: [2, 2], strides: [2, 2] });
    cin = cout;
  }
  const features = x;
  const pi = g.floats('pi', [], Float32Array.of(Math.PI));
  const pad = config.N / 4;
  const pads = g.int64s('centre_pads', [0, 0, pad, pad, 0, 0, pad, pad]);

  const decoder = (kind: 'amp' | 'phase') => {
    const prefix = `decoder_${kind}`;
    let y = features;
    let din = 128 * f;
    for (let i = 0; i < depth - 1; i++) {
      const dout = (32 * f) << (depth - 2 - i);
      y = upsample(block(y, `${prefix}.blocks.${i}`, din, dout));
      din = dout;
    }
    const last = `${prefix}.${kind}`;
    let inner = conv(channels(y, 0, din - outer, `${kind}_inner`), `${last}.conv1`, din - outer, cnet);
    if (kind === 'phase') inner = g.op('Mul', [g.op('Tanh', [inner]), pi]);
    else inner = activation(g, inner, config.ampActivation, silu);
    let out = g.op('Pad', [inner, pads], { mode: 'constant' });
    if (config.probeBig) {
      const full = upsample(block(channels(y, din - outer, din, `${kind}_outer`), `${last}.conv_up_block`, outer, din));
      out = g.op('Add', [out, silu(conv(full, `${last}.conv2`, din, cnet))]);
    }
    return out;
  };
  const back = shared ? g.int64s('batch_as_members', [-1, c, config.N, config.N]) : '';
  const members = (y: string) => shared ? g.op('Reshape', [y, back]) : y;
  const amplitude = members(decoder('amp'));
  const phase = members(decoder('phase'));
  g.op('Mul', [amplitude, g.op('Cos', [phase])], {}, ONNX_OUTPUTS[0]);
  g.op('Mul', [amplitude, g.op('Sin', [phase])], {}, ONNX_OUTPUTS[1]);
}

function activation(g: Graph, x: string, name: ModelConfig['ampActivation'], silu: (x: string) => string): string {
  switch (name) {
    case 'silu': return silu(x);
    case 'sigmoid': return g.op('Sigmoid', [x]);
    case 'softplus': return g.op('Softplus', [x]);
    case 'relu': return g.op('Relu', [x]);
  }
}

/**
 * The ONNX model (protobuf bytes) of a network: input `diffraction` (batch, C, N, N), the measured
 * amplitudes as the data file holds them (the graph divides by the intensity scale); outputs
 * `real` and `imag` (batch, C, N, N), the complex object patches.
 */
export function encodeOnnxModel(input: OnnxExportInput): Uint8Array {
  const { config } = input;
  if (!(input.intensityScale > 0) || !Number.isFinite(input.intensityScale)) {
    throw new ArgumentError(`the intensity scale must be a positive finite number, got ${input.intensityScale}`);
  }
  const g = new Graph(new Map(input.weights.map((t) => [t.name, t])));
  const scale = g.floats('intensity_scale', [], Float32Array.of(input.intensityScale));
  let x = g.op('Div', [ONNX_INPUT, scale]);
  if (input.inputNorm) {
    const shape = [config.N, config.N];
    x = g.op('Div', [g.op('Sub', [x, g.floats('input_mean', shape, input.inputNorm.mean)]), g.floats('input_std', shape, input.inputNorm.std)]);
  }
  buildGraph(g, config, x);
  const extra = g.unused();
  if (extra.length > 0) throw new ArgumentError(`the weights hold ${extra.join(', ')}, which the network of this configuration does not have`);
  const c = config.gridsize ** 2;
  const n = config.N;
  const tensor = (name: string) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: c }, { dimValue: n }, { dimValue: n }] } } },
  });
  const metadata: OnnxMetadata = {
    format: ONNX_FORMAT, formatVersion: 1, package: version,
    config: { model: config, ...(input.training ? { training: input.training } : {}) },
    intensityScale: input.intensityScale, seed: input.seed,
    ...(input.probe ? { probe: Buffer.concat(encodeNpyParts(input.probe, 'probe')).toString('base64') } : {}),
  };
  const root = onnxSchema();
  const Model = root.lookupType('onnx.ModelProto');
  const message = Model.fromObject({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'ptychopinn',
    producerVersion: version,
    docString: `PtychoPINN network (N = ${n}, gridsize ${config.gridsize}): diffraction amplitudes in, complex object patches out as real and imag`,
    graph: {
      name: 'ptychopinn',
      node: g.nodes,
      initializer: g.initializers,
      input: [tensor(ONNX_INPUT)],
      output: ONNX_OUTPUTS.map(tensor),
    },
    metadataProps: [{ key: ONNX_METADATA_KEY, value: JSON.stringify(metadata) }],
  });
  return Model.encode(message).finish();
}

/** The graph of a bundle's contents; weights that do not fit the manifest's network are the bundle's fault. */
export function onnxFromBundle(path: string, { state, weights }: Pick<BundleContents, 'state' | 'weights'>): Uint8Array {
  try {
    return encodeOnnxModel({
      config: state.config, training: state.training, probe: state.probe, weights, intensityScale: state.intensityScale,
      inputNorm: state.inputNorm, seed: state.seed,
    });
  } catch (error) {
    if (!(error instanceof ArgumentError)) throw error;
    throw new BundleError(path, `weights.safetensors does not fit the network its manifest describes: ${error.message}`, { cause: error });
  }
}

/** Writes an exported model to `path` (a temporary file renamed when complete). */
export async function writeOnnxModel(path: string, bytes: Uint8Array): Promise<void> {
  await writeAtomically(path, (temp) => writeFile(temp, bytes));
}
