#!/usr/bin/env node
// The `ptychopinn` command. Commands that need LibTorch load the addon only when they run.
import { Command } from 'commander';
import { availableParallelism } from 'node:os';
import { addon } from '../binding.js';
import { version } from '../version.js';

const program = new Command('ptychopinn')
  .description('PtychoPINN: physics-informed neural network for ptychographic phase retrieval')
  .version(version)
  .showSuggestionAfterError(true);

program.command('info')
  .description('print the package version, the native addon loaded and its LibTorch')
  .action(() => {
    const { binding, file } = addon();
    console.log(`ptychopinn ${version}`);
    console.log(`addon: ${file}`);
    console.log(`LibTorch: ${binding.torchVersion}`);
    console.log(`threads: ${availableParallelism()} (default)`);
  });

program.exitOverride((error) => {
  process.exit(error.exitCode === 0 ? 0 : 2);
});

try {
  await program.parseAsync(process.argv);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
