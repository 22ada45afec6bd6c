import test from 'ava';
import * as ort from 'onnxruntime-node';
import { diffract } from '../lib/physics.js';

// A minimal protobuf writer: enough to encode a one-node ONNX model by hand, so this test
// depends on no model file and no exporter.
const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
};
const int = (field: number, n: number) => [...varint(field << 3), ...varint(n)];
const bytes = (field: number, b: number[]) => [...varint((field << 3) | 2), ...varint(b.length), ...b];
const str = (field: number, s: string) => bytes(field, [...Buffer.from(s)]);

// y = x + x for a float tensor of shape (3,)
const valueInfo = (name: string) => [...str(1, name), ...bytes(2, // TypeProto
  bytes(1, [...int(1, 1), ...bytes(2, bytes(1, int(1, 3)))]))]; // tensor_type: FLOAT, shape (3,)
const model = Uint8Array.from([
  ...int(1, 8), // ir_version
  ...bytes(8, [...str(1, ''), ...int(2, 13)]), // opset_import: default domain, opset 13
  ...bytes(7, [ // graph
    ...bytes(1, [...str(1, 'x'), ...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Add')]),
    ...str(2, 'double'),
    ...bytes(11, valueInfo('x')),
    ...bytes(12, valueInfo('y')),
  ]),
]);

test('onnxruntime-node loads and runs a model in the same process as the LibTorch addon', async (t) => {
  await diffract({ dtype: 'complex64', shape: [1, 1, 1], data: new Float32Array([1, 0]) },
    { dtype: 'complex64', shape: [1, 1], data: new Float32Array([1, 0]) }, { threads: 1 });
  const session = await ort.InferenceSession.create(model);
  const x = new ort.Tensor('float32', Float32Array.from([1, -2.5, 4]), [3]);
  const { y } = await session.run({ x });
  t.deepEqual(Array.from(y.data as Float32Array), [2, -5, 8]);
  await session.release();
});
