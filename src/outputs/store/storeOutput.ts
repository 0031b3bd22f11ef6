import type { BusEvent } from '../../bus/index.js';
import type { TranscriptLine, TranscriptStore } from '../../store/index.js';
import type { OutputPlugin } from '../plugin.js';

/** The row a bus event becomes, if any: viewers' questions when accepted, and
 * finished spoken lines. Partial speech (speechDelta) is not a line yet. */
export function transcriptLine(event: BusEvent, sessionId: number, wallMs: number): TranscriptLine | undefined {
  if (event.type === 'questionQueued') {
    return { sessionId, t: event.t, wallMs, role: 'user', text: event.text, trigger: null, asker: event.asker ?? null, questionId: event.id };
  }
  if (event.type === 'say') {
    return { sessionId, t: event.t, wallMs, role: 'assistant', text: event.text, trigger: event.trigger, asker: null, questionId: event.questionId ?? null };
  }
  return undefined;
}

/** Must be activated first: it is a critical subscriber, so a line reaches later
 * outputs (the websocket) only after its commit returned. */
export function storeOutput(store: TranscriptStore, sessionId: number): OutputPlugin {
  return {
    id: 'store',
    activate: ({ bus }) => [
      bus.subscribe((event) => {
        const line = transcriptLine(event, sessionId, Date.now());
        if (line) store.append(line);
      }, { critical: true }),
      { dispose: () => store.close() },
    ],
  };
}
