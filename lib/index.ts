// The Node API: everything the command line does, typed.
import { addon } from './binding.js';

export { version } from './version.js';
export { AddonLoadError } from './binding.js';
export type { NativeCanvas as Canvas, NativeParameter as Parameter, NativeTrainState as TrainState } from './binding.js';
export type { DType, DataOf, NdArray, ComplexArray, FloatArray } from './ndarray.js';
export { readNpy, writeNpy, decodeNpy, encodeNpy, NpyError } from './npy.js';
export { NpzFile, readNpz, writeNpz, NpzError, type NpzMemberInfo, type WriteNpzOptions } from './npz.js';
export { type Dataset, type ObjectKind, type LoadOptions, type SaveOptions, DatasetError, checkDataset, loadDataset, openDataset, type StreamedDataset, saveDataset, fillBadPixels, BAD_PIXELS_KEY } from './dataset.js';
export {
  type ErrorCode, PtychoPinnError, ArgumentError, StateError, AbortedError, InterruptedError, NativeError,
} from './errors.js';
export { setCoreBudget } from './jobs.js';
export { ZipError } from './zip.js';
export { SafetensorsError, type NamedTensor } from './safetensors.js';
export { type Groups, type GroupingOptions, KdTree, groupPositions } from './grouping.js';
export { inputNormalization, intensityScale } from './scaling.js';
export { Rng } from './random.js';
export { type ScanPositions, type RasterOptions, type SpiralOptions, rasterScan, spiralScan } from './scan.js';
export { type SimulateOptions, type Simulation, simulate } from './simulation.js';
export { diffract, mergeGroup, type NativeOptions } from './physics.js';
export { stitch, extractPatches, centerWeights, probeWeights, CanvasSum, type StitchedObject, type StitchOptions } from './stitching.js';
export {
  type ModelConfig, type TrainingConfig, type InferenceConfig, ConfigError,
  ModelConfigSchema, TrainingConfigSchema, InferenceConfigSchema,
  resolveModelConfig, resolveTrainingConfig, resolveInferenceConfig,
} from './config.js';
export { type PatternSource, memoryPatterns } from './patterns.js';
export type { InferenceInput } from './inference.js';
export { PtychoPinnModel, amplitudeAndPhase, type Reconstruction, type ReconstructOptions, type ResumeState, type TrainingHistory, type ModelState, type InputNorm } from './model.js';
export { train, TrainingError, type TrainConfig, type TrainOptions, type TrainingProgress } from './training.js';
export {
  saveModel, loadModel, readBundle, readManifest, verifyBundle, BundleError, ManifestSchema, type BundleContents, type Manifest, type SaveModelOptions,
} from './bundle.js';
export { OnnxModel, OnnxModelError, type OnnxLoadOptions, type GraphOptimization } from './onnx/model.js';
export { type OnnxSource, describeSource } from './onnx/source.js';
export { encodeOnnxModel, writeOnnxModel, ONNX_OPSET, type OnnxExportInput, type OnnxMetadata } from './onnx/export.js';
export { Reconstructor, type ReconstructorOptions, TRAIN_FILE, TEST_FILE } from './reconstructor.js';
export {
  datasetFromInput, objectOnInputGrid, type ReconstructInput, type ReconstructOutput, type TrainOutput, type LossValue, type ObjectGeometry,
} from './ptychodus.js';
export {
  compareObjects, frc, ssim, registerShift, type Comparison, type CompareOptions, type Scores, type FrcCurve, type Region, type AlignedImages,
} from './metrics.js';
export { readObject, type ObjectFile } from './objects.js';
export {
  reconstructIterative, refineReconstruction, type IterativeMethod, type IterativeOptions, type IterativeProgress, type IterativeReconstruction,
} from './iterative.js';
export { maskProbe, defocusProbe, astigmatizeProbe, pinholeProbe, scaleProbe, normalizeProbe, probeOverlap } from './probe.js';
export { siemensStar, type SiemensStarOptions } from './simulation.js';
export { writeReconstruction, writeLossPlot, writeFrcPlot, type ReconstructionLike, type WrittenOutputs, type WriteOptions } from './outputs.js';
export { renderImage, writeImage, robustRange, imageSize, type RenderOptions, type ColorMap } from './images.js';
export { renderPlot, writePlot, type PlotSpec, type PlotSeries } from './plots.js';
export { startMlflowRun, startCsvLog, mlflowTarget, fileStoreHint, TrackingError, type Tracker, type MlflowTarget, type RunStatus } from './tracking.js';
export { startMlflowServerRun, type ServerRunOptions } from './tracking-server.js';

/** The LibTorch version the addon was built against (loads the addon). */
export function torchVersion(): string {
  return addon().binding.torchVersion;
}
