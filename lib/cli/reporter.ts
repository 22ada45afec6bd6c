// What a command prints: plain lines, a progress bar on a terminal, nothing but errors with
// --quiet; and every line, quiet or not, into the run's log file beside its outputs.
import { appendFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { TrainingProgress } from '../training.js';

export interface ReporterOptions {
  quiet?: boolean;
  /** Draw a progress bar (default: when stdout is a terminal). */
  bar?: boolean;
}

export class Reporter {
  /** The reporter of the command running now: main() records a failure in its log. */
  static active?: Reporter;
  private log?: string;
  private progressBar?: SingleBar;
  readonly quiet: boolean;
  private readonly useBar: boolean;

  constructor(options: ReporterOptions = {}) {
    this.quiet = options.quiet ?? false;
    this.useBar = !this.quiet && (options.bar ?? process.stdout.isTTY === true);
    Reporter.active = this;
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
    if (!this.quiet) console.log(line);
  }

  /** A failure: printed by main(), recorded here. */
  failed(line: string): void {
    this.stopBar();
    this.record(`error: ${line}`);
  }

  warn(line: string): void {
    this.record(`warning: ${line}`);
    console.error(`warning: ${line}`);
  }

  /** Training progress: a bar per epoch on a terminal, else one line per epoch. */
  progress(p: TrainingProgress): void {
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
      this.info(line);
    }
  }

  /** Iterative progress: a bar on a terminal, else a line every `every` iterations and at the end. */
  iteration(p: { iteration: number; iterations: number; error: number }, every = 10): void {
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
      if (this.useBar) this.record(line);
      else this.info(line);
    }
  }

  stopBar(): void {
    this.progressBar?.stop();
    this.progressBar = undefined;
  }
}
