#!/usr/bin/env node
// The `ptychopinn` executable. The signal handlers go in before anything else is even parsed: an
// ES module's imports are all loaded before any of them runs, so a handler installed from the
// program module itself would leave the first few hundred milliseconds unguarded.
import './signals.js';
import { preloadLibtorch } from '../binding.js';

// The commands that run LibTorch start loading it now, beside the loading of the program's
// modules and the reading of its inputs, which it would otherwise follow.
const [command, ...rest] = process.argv.slice(2);
const onnx = rest.some((arg, i) => arg === '--backend=onnx' || (arg === '--backend' && rest[i + 1] === 'onnx'));
const help = rest.some((arg) => arg === '--help' || arg === '-h');
if (['train', 'infer', 'reconstruct', 'demo', 'simulate', 'info'].includes(command) && !onnx && !help) preloadLibtorch();

await import('./main.js');
