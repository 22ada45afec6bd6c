// What a command prints: plain lines, a progress bar on a terminal, nothing but errors with
// --quiet; and every line, quiet or not, into the run's log file beside its outputs.
import { appendFileSync, writeFileSync } from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { TrainingProgress } from '../training.js';

export interface ReporterOptions {
  quiet?: boolean;
  /** Draw a progress bar (default: when stdout is a terminal). */
  bar?: boolean;
}

export class Reporter {
  private log?: string;
  private progressBar?: SingleBar;
  readonly quiet: boolean;
  private readonly useBar: boolean;

  constructor(options: ReporterOptions = {}) {
    this.quiet = options.quiet ?? false;
    this.useBar = !this.quiet && (options.bar ?? process.stdout.isTTY === true);
  }

  /** Starts the log file (truncating an old one): what was printed before is written too. */
  logTo(path: string, earlier: string[] = []): void {
    writeFileSync(path, earlier.map((l) => `${l}\n`).join(''));
    this.log = path;
  }

  private record(line: string): void {
    if (this.log) appendFileSync(this.log, `${line}\n`);
  }

  info(line: string): void {
    this.record(line);
    if (!this.quiet) console.log(line);
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

  stopBar(): void {
    this.progressBar?.stop();
  }
}
