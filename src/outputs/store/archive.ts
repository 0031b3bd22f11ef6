import type { SessionArchive } from '../plugin.js';
import { sessionCaptions } from './captions.js';
import type { TranscriptStore } from './transcriptStore.js';

/** The store's sessions as the control API lists them; `liveId` is this run's. */
export function sessionArchive(store: TranscriptStore, liveId: number): SessionArchive {
  const find = (id: number) => store.summaries(liveId).find((s) => s.id === id);
  return {
    list: (query) => store.summaries(liveId, query),
    transcript: (id, query) => {
      const session = find(id);
      return session && { session, lines: store.search(id, query) };
    },
    captions: (id, format) => (find(id) ? sessionCaptions(store.lines(id), format) : undefined),
  };
}
