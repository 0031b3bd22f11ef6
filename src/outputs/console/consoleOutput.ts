import type { BusEvent } from '../../bus/index.js';
import { consoleLine } from '../../cli/output.js';
import type { OutputPlugin } from '../plugin.js';

function daemonLine(event: BusEvent): string | undefined {
  switch (event.type) {
    case 'paused':
    case 'resumed':
      return `[${event.t.toFixed(1)}s] (${event.type})`;
    case 'thresholdChanged':
      return `(threshold ${event.threshold})`;
    case 'scenePause':
      return `(${event.paused ? 'paused' : 'resumed'}: scene '${event.scene}')`;
    case 'obsConnected':
      return '(OBS connected)';
    case 'obsDisconnected':
      return `(OBS disconnected: ${event.reason})`;
    case 'sourceStatus':
    case 'questionQueued':
    case 'obsProgramScene':
    case 'obsOutput':
      return undefined;
    default:
      return consoleLine(event);
  }
}

/** `cocaster run`'s view: one stdout line per spoken line, question or reset, plus daemon state changes. */
export function consoleOutput(write: (line: string) => void = (l) => process.stdout.write(l + '\n')): OutputPlugin {
  return {
    id: 'console',
    activate: ({ bus }) => [
      bus.subscribe((event) => {
        const line = daemonLine(event);
        if (line) write(line);
      }),
    ],
  };
}
