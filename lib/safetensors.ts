import { PtychoPinnError } from './errors.js';
// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length, a JSON header { name: { dtype, shape, data_offsets } }, then raw little-endian tensors.
// Python's `safetensors` reads what this writes. Only float32 is used by this package.

/** A float32 tensor with its name, as in a safetensors file. */
export interface NamedTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** A safetensors file that cannot be read: names the file and what was expected. */
export class SafetensorsError extends PtychoPinnError {
  override name = 'SafetensorsError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PTYCHOPINN_SAFETENSORS', message, { cause: options?.cause });
  }
}

// Larger headers than this mean a corrupt length field, not a real model.
const MAX_HEADER = 100 << 20;

/** The file as parts (header, then each tensor's bytes) so large weights are not copied twice. */
export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array[] {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.data.length * 4;
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) {
      throw new SafetensorsError(`tensor '${t.name}' holds ${t.data.length} values, its shape [${t.shape}] needs ${t.shape.reduce((a, b) => a * b, 1)}`);
    }
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // the data must start 8-byte aligned: pad the header with spaces, as the reference writer does
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const text = Buffer.from(json, 'utf8');
  const head = new Uint8Array(8 + text.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(text.length), true);
  head.set(text, 8);
  return [head, ...tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

/** Parses and checks a whole safetensors file; `source` names it in errors. */
export function decodeSafetensors(bytes: Uint8Array, source: string): { tensors: NamedTensor[]; metadata: Record<string, string> } {
  const fail = (message: string): never => {
    throw new SafetensorsError(`${source}: ${message}`);
  };
  if (bytes.length < 8) fail(`expected at least 8 bytes (the header length), found ${bytes.length}`);
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (length > MAX_HEADER || 8 + length > bytes.length) {
    fail(`header length ${length} does not fit in the file's ${bytes.length} bytes`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, length).toString('utf8')) as Record<string, unknown>;
  } catch (err) {
    return fail(`the header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const dataStart = 8 + length;
  const dataLength = bytes.length - dataStart;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const entries = Object.entries(header).filter(([name]) => name !== '__metadata__');
  const tensors: (NamedTensor & { begin: number; end: number })[] = [];
  for (const [name, value] of entries) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`tensor '${name}': expected an object with dtype, shape and data_offsets, found ${JSON.stringify(value)}`);
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (info.dtype !== 'F32') fail(`tensor '${name}': expected dtype F32, found ${JSON.stringify(info.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      return fail(`tensor '${name}': shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      return fail(`tensor '${name}': data_offsets ${JSON.stringify(offsets)} is not [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4 || end > dataLength) {
      fail(`tensor '${name}': data_offsets [${begin}, ${end}] do not hold ${count} float32 values within the ${dataLength} data bytes`);
    }
    // copied out: the zip's buffer need not be 4-byte aligned, and the weights outlive it
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.push({ name, shape: shape as number[], data, begin, end });
  }
  // like the reference reader: the tensors tile the data exactly, no gaps or overlaps
  const sorted = [...tensors].sort((a, b) => a.begin - b.begin);
  let at = 0;
  for (const t of sorted) {
    if (t.begin !== at) fail(`tensor '${t.name}' starts at byte ${t.begin}, expected ${at} (gap or overlap)`);
    at = t.end;
  }
  if (at !== dataLength) fail(`the tensors end at byte ${at} of ${dataLength} data bytes`);
  return { tensors: tensors.map(({ name, shape, data }) => ({ name, shape, data })), metadata };
}
