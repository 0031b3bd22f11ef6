import type { BusEvent } from '../../protocol/index.js';
import type { OutputPlugin } from '../plugin.js';

const stamp = (t: number) => `[${t.toFixed(1)}s]`;

/** The console view of an event: spoken lines, questions, resets and state changes. */
export function consoleLine(event: BusEvent): string | undefined {
  switch (event.type) {
    case 'question':
      return `${stamp(event.t)} User${event.asker ? ` (${event.asker})` : ''}: ${event.text}`;
    case 'say':
      return `${stamp(event.t)} Assistant: ${event.text}`;
    case 'contextReset':
      return `${stamp(event.t)} (context full: stream restarted, ${event.droppedTokens} tokens dropped)`;
    case 'paused':
    case 'resumed':
      return `${stamp(event.t)} (${event.type})`;
    case 'thresholdChanged':
      return `(threshold ${event.threshold})`;
    case 'scenePause':
      return `(${event.paused ? 'paused' : 'resumed'}: scene '${event.scene}')`;
    case 'obsConnected':
      return '(OBS connected)';
    case 'obsDisconnected':
      return `(OBS disconnected: ${event.reason})`;
    default:
      return undefined;
  }
}

/** One stdout line per spoken line, question or reset, plus state changes. */
export function consoleOutput(write: (line: string) => void = (l) => process.stdout.write(l + '\n')): OutputPlugin {
  return {
    id: 'console',
    activate: ({ bus }) => [
      bus.subscribe((event) => {
        const line = consoleLine(event);
        if (line) write(line);
      }),
    ],
  };
}
