import { consoleLine } from '../../cli/output.js';
import type { OutputPlugin } from '../plugin.js';

/** `cocaster run`'s view: one stdout line per spoken line, question or reset. */
export function consoleOutput(write: (line: string) => void = (l) => process.stdout.write(l + '\n')): OutputPlugin {
  return {
    id: 'console',
    activate: ({ bus }) => [
      bus.subscribe((event) => {
        if (event.type === 'paused' || event.type === 'resumed') write(`[${event.t.toFixed(1)}s] (${event.type})`);
        else if (event.type === 'thresholdChanged') write(`(threshold ${event.threshold})`);
        else if (event.type !== 'sourceStatus' && event.type !== 'questionQueued') {
          const line = consoleLine(event);
          if (line) write(line);
        }
      }),
    ],
  };
}
