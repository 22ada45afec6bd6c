// The package's errors: one base class with a stable `code` a program can switch on, and the exit
// code the command line uses for it (2: the call was wrong; 1: the run failed).

/** The `code` of every error this package throws, stable across versions. */
export type ErrorCode =
  | 'ERR_PTYCHOPINN_USAGE'
  | 'ERR_PTYCHOPINN_CONFIG'
  | 'ERR_PTYCHOPINN_ARGUMENT'
  | 'ERR_PTYCHOPINN_NPY'
  | 'ERR_PTYCHOPINN_NPZ'
  | 'ERR_PTYCHOPINN_ZIP'
  | 'ERR_PTYCHOPINN_SAFETENSORS'
  | 'ERR_PTYCHOPINN_DATASET'
  | 'ERR_PTYCHOPINN_BUNDLE'
  | 'ERR_PTYCHOPINN_ONNX'
  | 'ERR_PTYCHOPINN_TRACKING'
  | 'ERR_PTYCHOPINN_TRAINING'
  | 'ERR_PTYCHOPINN_ABORTED'
  | 'ERR_PTYCHOPINN_ADDON'
  | 'ERR_PTYCHOPINN_NATIVE'
  | 'ERR_PTYCHOPINN_STATE'
  | 'ERR_PTYCHOPINN_INTERRUPTED';

/** The base of every error this package throws; `code` tells them apart. */
export class PtychoPinnError extends Error {
  override name = 'PtychoPinnError';
  /** Stable across releases: switch on this, not on the message. */
  readonly code: ErrorCode;
  /** What `ptychopinn` exits with for this error. */
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** An API function was called with an argument it cannot use (the CLI: a usage error). */
export class ArgumentError extends PtychoPinnError {
  override name = 'ArgumentError';
  constructor(message: string) {
    super('ERR_PTYCHOPINN_ARGUMENT', message, { exitCode: 2 });
  }
}

/** A call made in the wrong state (no model yet, no training data). */
export class StateError extends PtychoPinnError {
  override name = 'StateError';
  constructor(message: string) {
    super('ERR_PTYCHOPINN_STATE', message);
  }
}

/** Training or another long call was stopped by an AbortSignal (a reconstruction: before it finished). */
export class AbortedError extends PtychoPinnError {
  override name = 'AbortedError';
  constructor(message = 'the operation was aborted before it started') {
    super('ERR_PTYCHOPINN_ABORTED', message);
  }
}

/** A command stopped by SIGINT (exit 130) or SIGTERM (exit 143) after saving what it had. */
export class InterruptedError extends PtychoPinnError {
  override name = 'InterruptedError';
  constructor(readonly signal: 'SIGINT' | 'SIGTERM', message: string) {
    super('ERR_PTYCHOPINN_INTERRUPTED', message, { exitCode: signal === 'SIGINT' ? 130 : 143 });
  }
}

/** The native addon refused a call or failed inside LibTorch. */
export class NativeError extends PtychoPinnError {
  override name = 'NativeError';
  constructor(message: string, cause?: unknown) {
    super('ERR_PTYCHOPINN_NATIVE', message, { cause });
  }
}

function asNativeError(what: string, error: unknown): PtychoPinnError {
  if (error instanceof PtychoPinnError) return error;
  return new NativeError(`${what}: ${(error as Error)?.message ?? String(error)}`, error);
}

/** Runs a native call; its rejection becomes a NativeError that keeps the native message. */
export async function native<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw asNativeError(what, error);
  }
}

/** A native call that does not return a promise (constructors, parameter access). */
export function nativeSync<T>(what: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    throw asNativeError(what, error);
  }
}
