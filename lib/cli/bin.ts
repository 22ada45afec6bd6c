#!/usr/bin/env node
// The `ptychopinn` executable. The signal handlers go in before anything else is even parsed: an
// ES module's imports are all loaded before any of them runs, so a handler installed from the
// program module itself would leave the first few hundred milliseconds unguarded.
import './signals.js';

await import('./main.js');
