// The `ptychopinn` command. Exit codes: 0 ok, 1 failure, 2 usage error.
import { Command, CommanderError } from 'commander';
import { availableParallelism } from 'node:os';
import { addon, metricsAddon } from '../binding.js';
import { ConfigError } from '../config.js';
import { InterruptedError, PtychoPinnError } from '../errors.js';
import { version } from '../version.js';
import { normalizeFlags } from './common.js';
import { registerCompare } from './compare.js';
import { registerDemo } from './demo.js';
import { registerExportOnnx } from './export-onnx.js';
import { registerInfer } from './infer.js';
import { registerInspect } from './inspect.js';
import { registerReconstruct } from './reconstruct.js';
import { Reporter } from './reporter.js';
import { registerSimulate } from './simulate.js';
import { registerTrain } from './train.js';

function makeProgram(): Command {
  const program = new Command('ptychopinn')
    .description('PtychoPINN: physics-informed neural network for ptychographic phase retrieval')
    .version(version)
    .showSuggestionAfterError(true)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text) });
  registerTrain(program);
  registerInfer(program);
  registerReconstruct(program);
  registerCompare(program);
  registerSimulate(program);
  registerDemo(program);
  registerInspect(program);
  registerExportOnnx(program);
  program.command('info')
    .description('print the package version, the native addons loaded and their LibTorch')
    .action(() => {
      console.log(`ptychopinn ${version}`);
      // first: it is there without LibTorch, and the LibTorch addon's absence ends the command
      try {
        const metrics = metricsAddon();
        console.log(`metrics addon: ${metrics.file} (${metrics.origin})`);
      } catch (error) {
        console.log(`metrics addon: none (${(error as Error).message})`);
      }
      const { binding, file, origin } = addon();
      console.log(`addon: ${file} (${origin})`);
      console.log(`LibTorch: ${binding.torchVersion}${binding.cudaAvailable ? ' (CUDA available)' : ' (CPU)'}`);
      console.log(`allocator: ${binding.allocator}`);
      console.log(`layout (training and inference): ${binding.layout}`);
      console.log(`threads: ${availableParallelism()} (default)`);
    });
  return program;
}

/** The failure as --json's last line, also when it came before the command had a reporter. */
function emitError(argv: string[], code: string, exitCode: number, message: string): void {
  if (Reporter.active?.json) Reporter.active.emit({ event: 'error', code, exitCode, message });
  else if (argv.includes('--json')) console.log(JSON.stringify({ event: 'error', code, exitCode, message }));
}

async function main(argv: string[]): Promise<number> {
  try {
    await makeProgram().parseAsync(normalizeFlags(argv), { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed its message; help and --version are not errors
      if (error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      emitError(argv, 'ERR_PTYCHOPINN_USAGE', 2, error.message);
      return 2;
    }
    // a configuration error reads as the flag the user typed
    const message = error instanceof ConfigError ? error.flagMessage : error instanceof Error ? error.message : String(error);
    console.error(error instanceof InterruptedError ? message : `error: ${message}`);
    Reporter.active?.failed(message);
    const exitCode = error instanceof PtychoPinnError ? error.exitCode : 1;
    emitError(argv, error instanceof PtychoPinnError ? error.code : 'ERR_PTYCHOPINN_UNEXPECTED', exitCode, message);
    return exitCode;
  }
}

// A reader that goes away (`ptychopinn train ... | head`) ends what we print, not the run: the
// outputs and the log file are still written whole.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

process.exitCode = await main(process.argv.slice(2));
