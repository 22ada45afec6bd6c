// The thread ONNX Runtime runs on. onnxruntime-node's `run` is a synchronous native call made from
// the calling thread, so on the main thread every batch would stop the event loop (progress bars,
// signals, a server's other requests); here it stops only this worker. One session per worker.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';

export interface WorkerSetup {
  model: Uint8Array;
  options: ort.InferenceSession.SessionOptions;
  input: string;
  outputs: string[];
}
export interface WorkerRequest { id: number; x: Float32Array; shape: number[] }
export type WorkerReply = { id: number; outputs: Float32Array[] } | { id: number; error: string };

const setup = workerData as WorkerSetup;
const session = ort.InferenceSession.create(setup.model, setup.options);
// a failed load is answered on the first request, with ONNX Runtime's message
session.catch(() => undefined);

parentPort!.on('message', async ({ id, x, shape }: WorkerRequest) => {
  try {
    const out = await (await session).run({ [setup.input]: new ort.Tensor('float32', x, shape) });
    const outputs = setup.outputs.map((name) => out[name].data as Float32Array);
    parentPort!.postMessage({ id, outputs } satisfies WorkerReply, outputs.map((o) => o.buffer as ArrayBuffer));
  } catch (error) {
    parentPort!.postMessage({ id, error: (error as Error).message } satisfies WorkerReply);
  }
});
