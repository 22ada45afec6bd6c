// Where an ONNX model's graph came from, in words for logs: without loading ONNX Runtime or the
// ONNX schema, so that the command line can name it cheaply.

/** The bundle's stored model.onnx, a graph built from its weights on loading, or a .onnx file. */
export type OnnxSource = 'bundle' | 'built from weights' | 'onnx file';

/** One line that says where an ONNX graph came from, for logs. */
export function describeSource(source: OnnxSource): string {
  switch (source) {
    case 'bundle': return 'the bundle\'s model.onnx';
    case 'built from weights': return 'a graph built from the weights';
    case 'onnx file': return 'the .onnx file';
  }
}
