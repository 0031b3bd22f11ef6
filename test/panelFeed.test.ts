// The overlay is built for ES2023 browsers (overlay/tsconfig.json); its findLast needs this lib here.
/// <reference lib="es2023.array" />
import { describe, expect, it } from 'vitest';
import { applyToFeed, loadHistory, newFeed, type Feed } from '../overlay/src/panel/feed.js';
import type { BusEvent, TranscriptLine } from '../src/protocol/index.js';

/** The control panel's live transcript and question queue (a pure reducer over
 * bus events; Transcript.svelte and QuestionQueue.svelte render it). */

const queued = (id: string, text: string, asker?: string): BusEvent => ({ type: 'questionQueued', t: 3, id, text, ...(asker ? { asker } : {}) });
const start = (t = 4): BusEvent => ({ type: 'speechStart', t, trigger: 'self' });
const delta = (text: string): BusEvent => ({ type: 'speechDelta', t: 4, text });
const say = (text: string, t = 4): BusEvent => ({ type: 'say', t, text, trigger: 'self', tokenIds: [] });

const apply = (feed: Feed, events: BusEvent[]) => events.forEach((e) => applyToFeed(feed, e));
const line = (over: Partial<TranscriptLine>): TranscriptLine => ({
  sessionId: 1, t: 0, wallMs: 0, role: 'assistant', text: '', trigger: 'self', asker: null, questionId: null, ...over,
});

describe('control panel feed', () => {
  it('queues an accepted question and shows it as a user line; answering takes it off the queue, not the transcript', () => {
    const f = newFeed();
    apply(f, [queued('q1', 'who scored?', 'ann'), queued('q2', 'why?')]);
    expect(f.queue).toEqual([{ id: 'q1', text: 'who scored?', asker: 'ann' }, { id: 'q2', text: 'why?' }]);
    expect(f.lines).toEqual([
      { key: 'l1', t: 3, role: 'user', text: 'who scored?', asker: 'ann', live: false },
      { key: 'l2', t: 3, role: 'user', text: 'why?', live: false },
    ]);
    applyToFeed(f, { type: 'question', t: 5, id: 'q1', text: 'who scored?', asker: 'ann' });
    expect(f.queue).toEqual([{ id: 'q2', text: 'why?' }]);
    expect(f.lines).toHaveLength(2);
    applyToFeed(f, { type: 'question', t: 5, id: 'q7', text: 'unknown' });
    expect(f.queue).toEqual([{ id: 'q2', text: 'why?' }]);
  });

  it('streams speech into a live line that say completes', () => {
    const f = newFeed();
    apply(f, [start(), delta('Go'), delta('al ')]);
    expect(f.lines).toEqual([{ key: 'l1', t: 4, role: 'assistant', text: 'Goal ', live: true }]);
    applyToFeed(f, say('Goal!'));
    expect(f.lines).toEqual([{ key: 'l1', t: 4, role: 'assistant', text: 'Goal!', live: false }]);
    // A later delta has no live line to go to.
    applyToFeed(f, delta('x'));
    expect(f.lines[0]!.text).toBe('Goal!');
  });

  it('drops a line that ends up empty (an answer that was EOS alone), and shows nothing for one joined mid-way', () => {
    const f = newFeed();
    apply(f, [say('Before.', 2), start(), say('')]);
    expect(f.lines.map((l) => l.text)).toEqual(['Before.']);
    applyToFeed(f, say(''));
    expect(f.lines.map((l) => l.text)).toEqual(['Before.']);
  });

  it('shows a line joined mid-way once said, and drops deltas with no live line', () => {
    const f = newFeed();
    apply(f, [delta('lost'), say('Whole line.', 6)]);
    expect(f.lines).toEqual([{ key: 'l1', t: 6, role: 'assistant', text: 'Whole line.', live: false }]);
  });

  it('interleaves questions arriving during speech without breaking the live line', () => {
    const f = newFeed();
    apply(f, [start(), delta('Half'), queued('q1', 'hi?'), delta(' way'), say('Half way.')]);
    expect(f.lines.map((l) => [l.key, l.role, l.text, l.live])).toEqual([
      ['l1', 'assistant', 'Half way.', false],
      ['l2', 'user', 'hi?', false],
    ]);
  });

  it('loads history in place of what it shows, then appends live lines with their own keys', () => {
    const f = newFeed();
    apply(f, [start(), say('before')]);
    loadHistory(f, [line({ t: 1, role: 'user', text: 'q?', asker: 'bo', trigger: null, questionId: 'q1' }), line({ t: 2, text: 'a.' })]);
    expect(f.lines).toEqual([
      { key: 'h0', t: 1, role: 'user', text: 'q?', asker: 'bo', live: false },
      { key: 'h1', t: 2, role: 'assistant', text: 'a.', live: false },
    ]);
    apply(f, [start(9), say('after', 9)]);
    expect(f.lines.map((l) => l.key)).toEqual(['h0', 'h1', 'l2']);
  });

  it('keeps the last 300 lines', () => {
    const f = newFeed();
    for (let i = 0; i < 305; i++) apply(f, [start(i), say(`line ${i}`, i)]);
    expect(f.lines).toHaveLength(300);
    expect(f.lines[0]!.text).toBe('line 5');
    expect(f.lines.at(-1)!.text).toBe('line 304');
    expect(new Set(f.lines.map((l) => l.key)).size).toBe(300);
    // A line streaming when the cap is hit is still the one say completes.
    apply(f, [start(400), delta('streaming')]);
    expect(f.lines).toHaveLength(300);
    applyToFeed(f, say('done', 400));
    expect(f.lines.at(-1)).toMatchObject({ text: 'done', live: false, t: 400 });
  });

  it('ignores everything else on the bus', () => {
    const f = newFeed();
    apply(f, [queued('q1', 'x'), start(), delta('mid')]);
    const before = structuredClone(f);
    apply(f, [
      { type: 'frame', t: 1, pInterval: 0.2, decision: 'speak' },
      { type: 'contextReset', t: 1, droppedTokens: 100 },
      { type: 'paused', t: 1 },
      { type: 'thresholdChanged', threshold: 0.5 },
      { type: 'scenePause', paused: true, scene: 'BRB' },
    ]);
    expect(f).toEqual(before);
  });
});
