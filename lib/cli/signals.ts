// SIGINT and SIGTERM (a batch scheduler's time limit sends SIGTERM). Installed first thing, so no
// signal ever kills the process without a word: a command that can stop cleanly (train, infer,
// demo) is told and finishes its step; any other exits at once with 130 or 143, after removing
// the temporary files of writes in progress (what a user owns is replaced only by a rename).
import { removePendingTemps } from '../atomic.js';

type Name = 'SIGINT' | 'SIGTERM';
const EXIT: Record<Name, number> = { SIGINT: 130, SIGTERM: 143 };

let received: Name | undefined;
let graceful: ((name: Name, first: boolean) => void) | undefined;
const controller = new AbortController();

// Installed when this module is evaluated: main.ts imports it first, before anything slow loads.
installSignalHandlers();

function installSignalHandlers(): void {
  for (const name of ['SIGINT', 'SIGTERM'] as const) {
    process.on(name, () => {
      const first = received === undefined;
      received ??= name;
      if (graceful) {
        graceful(name, first);
        controller.abort();
        return;
      }
      console.error(`interrupted by ${name}`);
      removePendingTemps();
      process.exit(EXIT[name]);
    });
  }
}

/** From now on a signal aborts the returned signal instead of ending the process. */
export function stopGracefully(onSignal: (name: Name, first: boolean) => void): AbortSignal {
  graceful = onSignal;
  return controller.signal;
}

/** The signal that came, if one did. */
export function signalReceived(): Name | undefined {
  return received;
}
