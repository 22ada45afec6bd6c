// What a command prints: plain lines, a progress bar on a terminal, nothing but errors with
// --quiet, or JSON lines with --json (for programs that drive the command line, such as a
// ptychodus adapter); and every line, quiet or not, into the run's log file beside its outputs.
import { appendFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { TrainingProgress } from '../training.js';

export interface ReporterOptions {
  quiet?: boolean;
  /** Draw a progress bar (default: when stdout is a terminal). */
  bar?: boolean;
  /**
   * One JSON object a line on stdout, each with an `event`: `log`, `warning`, `progress`,
   * `result` (the command's outcome, last) or `error`.
   */
  json?: boolean;
}

/** The help of every command's --json flag. */
export const JSON_HELP = 'print JSON lines (log, warning, progress of every batch, result, error) for programs that drive ptychopinn';

/** A JSON line of --json mode (non-finite numbers, such as a NaN loss, come out as null). */
export type JsonEvent =
  | { event: 'log' | 'warning'; message: string }
  | { event: 'progress'; stage: 'train' | 'infer' | 'refine'; [key: string]: unknown }
  | { event: 'result'; [key: string]: unknown }
  | { event: 'error'; code: string; exitCode: number; message: string };

export class Reporter {
  /** The reporter of the command running now: main() records a failure in its log. */
  static active?: Reporter;
  private log?: string;
  private progressBar?: SingleBar;
  readonly quiet: boolean;
  readonly json: boolean;
  private readonly useBar: boolean;

  constructor(options: ReporterOptions = {}) {
    this.json = options.json ?? false;
    this.quiet = options.quiet ?? false;
    this.useBar = !this.quiet && !this.json && (options.bar ?? process.stdout.isTTY === true);
    Reporter.active = this;
  }

  /** A JSON line on stdout (--json mode only). */
  emit(event: JsonEvent): void {
    // non-finite numbers become null in JSON; main() keeps a closed pipe (| head) from crashing
    if (this.json) console.log(JSON.stringify(event));
  }

  /** The command's outcome: the last line in --json mode; nothing otherwise (info lines say it). */
  result(fields: Record<string, unknown>): void {
    this.emit({ event: 'result', ...fields });
  }

  /**
   * Appends this run to the log file under a dated header: an earlier run's log in the same
   * folder is kept, whether this run succeeds or fails.
   */
  logTo(path: string, command = process.argv.slice(2).join(' ')): void {
    appendFileSync(path, `\n=== ${new Date().toISOString()}  ptychopinn ${command}\n`);
    this.log = path;
  }

  private record(line: string): void {
    if (this.log) appendFileSync(this.log, `${line}\n`);
  }

  info(line: string): void {
    this.record(line);
    if (this.json) this.emit({ event: 'log', message: line });
    else if (!this.quiet) console.log(line);
  }

  /** A failure: printed by main(), recorded here. */
  failed(line: string): void {
    this.stopBar();
    this.record(`error: ${line}`);
  }

  warn(line: string): void {
    this.record(`warning: ${line}`);
    if (this.json) this.emit({ event: 'warning', message: line });
    else console.error(`warning: ${line}`);
  }

  /** Training progress: a bar per epoch on a terminal, else one line per epoch; --json: every batch. */
  progress(p: TrainingProgress): void {
    this.emit({
      event: 'progress', stage: 'train', epoch: p.epoch, epochs: p.epochs, batch: p.batch, batches: p.batches, loss: p.loss,
      ...(p.epochEnd ? { epochLoss: p.epochLoss, validationLoss: p.validationLoss ?? null, learningRate: p.learningRate } : {}),
    });
    if (this.useBar) {
      if (p.batch === 1) {
        this.progressBar = new SingleBar({
          format: `epoch ${p.epoch}/${p.epochs} |{bar}| {value}/{total} batches | loss {loss} | {rate} groups/s`,
          hideCursor: true, clearOnComplete: true,
        });
        this.progressBar.start(p.batches, 0, { loss: '-', rate: '-' });
      }
      this.progressBar?.update(p.batch, { loss: p.loss.toPrecision(6), rate: p.samplesPerSecond.toFixed(1) });
      if (p.epochEnd) this.progressBar?.stop();
    }
    if (p.epochEnd) {
      const validation = p.validationLoss == null ? '' : `  validation ${p.validationLoss.toPrecision(6)}`;
      const line = `epoch ${p.epoch}/${p.epochs}  loss ${p.epochLoss!.toPrecision(6)}${validation}  ` +
        `${p.samplesPerSecond.toFixed(1)} groups/s  lr ${p.learningRate.toExponential(2)}`;
      // --json has the epoch in its progress events; the log file keeps the line either way
      if (this.json) this.record(line);
      else this.info(line);
    }
  }

  /** Inference progress: a bar on a terminal; --json: a line per batch; plain output: nothing. */
  inference(p: { done: number; total: number }): void {
    this.emit({ event: 'progress', stage: 'infer', done: p.done, total: p.total });
    if (!this.useBar) return;
    if (!this.progressBar) {
      this.progressBar = new SingleBar({ format: 'reconstructing |{bar}| {value}/{total} groups', hideCursor: true, clearOnComplete: true });
      this.progressBar.start(p.total, 0);
    }
    this.progressBar.update(p.done);
    if (p.done === p.total) this.stopBar();
  }

  /** Iterative progress: a bar on a terminal, else a line every `every` iterations and at the end. */
  iteration(p: { iteration: number; iterations: number; error: number }, every = 10): void {
    this.emit({ event: 'progress', stage: 'refine', iteration: p.iteration, iterations: p.iterations, error: p.error });
    if (this.useBar) {
      if (!this.progressBar) {
        this.progressBar = new SingleBar({ format: 'iteration {value}/{total} |{bar}| error {error}', hideCursor: true, clearOnComplete: true });
        this.progressBar.start(p.iterations, 0, { error: '-' });
      }
      this.progressBar.update(p.iteration, { error: p.error.toExponential(3) });
      if (p.iteration === p.iterations) this.stopBar();
    }
    if (p.iteration % every === 0 || p.iteration === p.iterations || p.iteration === 1) {
      const line = `iteration ${p.iteration}/${p.iterations}  error ${p.error.toExponential(4)}`;
      if (this.useBar || this.json) this.record(line);
      else this.info(line);
    }
  }

  stopBar(): void {
    this.progressBar?.stop();
    this.progressBar = undefined;
  }
}
