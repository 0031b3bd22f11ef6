import type { BusEvent, TranscriptLine } from '../../../src/protocol/index.ts';

export interface FeedLine {
  key: string;
  t: number;
  role: 'user' | 'assistant';
  text: string;
  asker?: string;
  live: boolean;
}

export interface QueuedQuestion {
  id: string;
  text: string;
  asker?: string;
}

export interface Feed {
  lines: FeedLine[];
  queue: QueuedQuestion[];
  nextKey: number;
}

const MAX_LINES = 300;

export const newFeed = (): Feed => ({ lines: [], queue: [], nextKey: 1 });

export function loadHistory(feed: Feed, lines: readonly TranscriptLine[]): void {
  feed.lines = lines.map((l, i) => ({ key: `h${i}`, t: l.t, role: l.role, text: l.text, ...(l.asker ? { asker: l.asker } : {}), live: false }));
}

/** The live transcript: questions when accepted, speech as it streams. Mutates (Svelte state). */
export function applyToFeed(feed: Feed, event: BusEvent): void {
  const push = (line: Omit<FeedLine, 'key'>) => {
    feed.lines.push({ key: `l${feed.nextKey++}`, ...line });
    if (feed.lines.length > MAX_LINES) feed.lines.splice(0, feed.lines.length - MAX_LINES);
  };
  const live = feed.lines.findLast((l) => l.live);
  switch (event.type) {
    case 'questionQueued':
      feed.queue.push({ id: event.id, text: event.text, ...(event.asker ? { asker: event.asker } : {}) });
      push({ t: event.t, role: 'user', text: event.text, ...(event.asker ? { asker: event.asker } : {}), live: false });
      return;
    case 'question':
      feed.queue = feed.queue.filter((q) => q.id !== event.id);
      return;
    case 'speechStart':
      push({ t: event.t, role: 'assistant', text: '', live: true });
      return;
    case 'speechDelta':
      if (live) live.text += event.text;
      return;
    case 'say':
      // An answer that was EOS alone says nothing: no empty line (the overlay drops it too).
      if (!event.text) return void (live && feed.lines.splice(feed.lines.indexOf(live), 1));
      if (live) Object.assign(live, { text: event.text, live: false });
      else push({ t: event.t, role: 'assistant', text: event.text, live: false });
      return;
    default:
      return;
  }
}
