// Inputs the fuzzers found that once escaped as TypeError/RangeError: each must stay a clean error.
import test from 'ava';
import { NpyError, decodeNpy } from '../lib/npy.js';
import { SafetensorsError, decodeSafetensors } from '../lib/safetensors.js';

function npyWithHeader(header: string): Uint8Array {
  const text = `${header.padEnd(118, ' ')}\n`;
  const out = new Uint8Array(10 + text.length);
  out.set([0x93, ...Buffer.from('NUMPY'), 1, 0], 0);
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(Buffer.from(text), 10);
  return out;
}

function safetensorsWithHeader(header: string): Uint8Array {
  const json = Buffer.from(header);
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

test('an npy header with an empty dtype is an NpyError', (t) => {
  t.throws(() => decodeNpy(npyWithHeader("{'descr': '', 'fortran_order': False, 'shape': (1,), }")), { instanceOf: NpyError, message: /unsupported dtype ''/ });
});

test('a safetensors entry that is null or not an object is a SafetensorsError', (t) => {
  for (const entry of ['null', '5', '[1, 2]', '"x"']) {
    t.throws(() => decodeSafetensors(safetensorsWithHeader(`{"a": ${entry}}`), 'w.safetensors'),
      { instanceOf: SafetensorsError, message: /tensor 'a': expected an object with dtype, shape and data_offsets/ }, entry);
  }
});
