import type { BusEvent, TranscriptLine } from '../../protocol/index.js';
import type { OutputPlugin } from '../plugin.js';
import { sessionArchive } from './archive.js';
import { TranscriptStore } from './transcriptStore.js';

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

/** The transcript in SQLite: one session per activation. Must be activated first: it
 * is a critical subscriber, so a line reaches later outputs (the websocket) only
 * after its commit returned. */
export function storeOutput(path: string): OutputPlugin {
  return {
    id: 'store',
    activate: ({ bus, control, provideTranscript }) => {
      const store = new TranscriptStore(path);
      let sessionId: number;
      try {
        const { source, model } = control.status();
        sessionId = store.startSession(source, model);
      } catch (err) {
        store.close();
        throw err;
      }
      return [
        { dispose: () => store.close() },
        { dispose: () => store.endSession(sessionId) },
        provideTranscript({ sessionId, recent: (limit) => store.recent(sessionId, limit), archive: sessionArchive(store, sessionId) }),
        bus.subscribe((event) => {
          const line = transcriptLine(event, sessionId, Date.now());
          if (line) store.append(line);
        }, { critical: true }),
      ];
    },
  };
}
