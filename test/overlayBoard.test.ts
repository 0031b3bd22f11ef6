// The overlay is built for ES2023 browsers (overlay/tsconfig.json); its findLast needs this lib here.
/// <reference lib="es2023.array" />
import { describe, expect, it } from 'vitest';
import { applyEvent, newBoard, removeCaption, type Board } from '../overlay/src/overlay/board.js';
import type { BusEvent } from '../src/protocol/index.js';

/** The overlay's caption board (a pure reducer over bus events; Overlay.svelte
 * renders it and runs the fade timers). */

const start = (questionId?: string): BusEvent => ({ type: 'speechStart', t: 1, trigger: questionId ? 'question' : 'self', ...(questionId ? { questionId } : {}) });
const delta = (text: string): BusEvent => ({ type: 'speechDelta', t: 1, text });
const say = (text: string, questionId?: string): BusEvent => ({ type: 'say', t: 1, text, trigger: questionId ? 'question' : 'self', tokenIds: [], ...(questionId ? { questionId } : {}) });

function apply(board: Board, events: BusEvent[], maxLines = 3) {
  return events.map((e) => applyEvent(board, e, maxLines));
}

describe('overlay caption board', () => {
  it('streams a line: start opens an empty caption, deltas append, say makes it final with the said text', () => {
    const b = newBoard();
    apply(b, [start(), delta('Nice'), delta(' shot ')]);
    expect(b.captions).toEqual([{ id: 1, text: 'Nice shot ', final: false, fading: false }]);
    const done = applyEvent(b, say('Nice shot!'), 3);
    // say's text wins over what streamed (the engine trims it).
    expect(b.captions).toEqual([{ id: 1, text: 'Nice shot!', final: true, fading: false }]);
    expect(done).toBe(b.captions[0]); // its fade timer starts now
  });

  it('shows the question over its answer, and forgets it once the answer starts', () => {
    const b = newBoard();
    apply(b, [
      { type: 'question', t: 2, id: 'q1', text: 'who scored?', asker: 'ann' },
      { type: 'question', t: 2, id: 'q2', text: 'and now?' },
    ]);
    expect(b.questions).toEqual({ q1: { text: 'who scored?', asker: 'ann' }, q2: { text: 'and now?' } });
    expect(b.captions).toEqual([]);
    apply(b, [start('q1'), delta('Bo'), say('Bob did', 'q1')]);
    expect(b.captions).toEqual([{ id: 1, text: 'Bob did', final: true, fading: false, question: { text: 'who scored?', asker: 'ann' } }]);
    expect(b.questions).toEqual({ q2: { text: 'and now?' } });
    // Self speech in between does not take a waiting question.
    apply(b, [start(), say('Corner.')]);
    expect(b.captions[1]).not.toHaveProperty('question');
    expect(b.questions).toEqual({ q2: { text: 'and now?' } });
    // An answer whose question this board never saw (connected late) has none.
    apply(b, [start('q9'), say('Yes.', 'q9')]);
    expect(b.captions.at(-1)).not.toHaveProperty('question');
  });

  it('keeps the last maxLines captions, dropping the oldest when a line starts', () => {
    const b = newBoard();
    for (const text of ['one', 'two', 'three']) apply(b, [start(), say(text)], 2);
    expect(b.captions.map((c) => [c.id, c.text])).toEqual([[2, 'two'], [3, 'three']]);
    apply(b, [start(), delta('fo')], 2);
    expect(b.captions.map((c) => [c.id, c.text, c.final])).toEqual([[3, 'three', true], [4, 'fo', false]]);
  });

  it('shows a line it joined mid-way once it is said, and ignores deltas with no open line', () => {
    const b = newBoard();
    expect(apply(b, [delta('lost'), delta(' text')])).toEqual([undefined, undefined]);
    expect(b.captions).toEqual([]);
    const done = applyEvent(b, say('Whole line.'), 3);
    expect(b.captions).toEqual([{ id: 1, text: 'Whole line.', final: true, fading: false }]);
    expect(done).toBe(b.captions[0]);
    // Deltas after the line is final do not touch it.
    applyEvent(b, delta('x'), 3);
    expect(b.captions[0]!.text).toBe('Whole line.');
  });

  it('removes a line that ends up empty', () => {
    const b = newBoard();
    apply(b, [start(), say('kept')]);
    expect(apply(b, [start(), delta(' '), say('')])).toEqual([undefined, undefined, undefined]);
    expect(b.captions.map((c) => c.text)).toEqual(['kept']);
    expect(applyEvent(b, say(''), 3)).toBeUndefined(); // joined mid-way, nothing said
    expect(b.captions.map((c) => c.text)).toEqual(['kept']);
  });

  it('removes a caption by id when its fade ends, and nothing for an unknown id', () => {
    const b = newBoard();
    apply(b, [start(), say('a'), start(), say('b')]);
    removeCaption(b, 1);
    expect(b.captions.map((c) => c.id)).toEqual([2]);
    removeCaption(b, 1);
    removeCaption(b, 42);
    expect(b.captions.map((c) => c.id)).toEqual([2]);
    // Ids are never reused.
    apply(b, [start()]);
    expect(b.captions.map((c) => c.id)).toEqual([2, 3]);
  });

  it('ignores everything else on the bus', () => {
    const b = newBoard();
    apply(b, [start(), delta('mid')]);
    const before = structuredClone(b);
    const others: BusEvent[] = [
      { type: 'frame', t: 1, pInterval: 0.2, decision: 'speak' },
      { type: 'contextReset', t: 1, droppedTokens: 100 },
      { type: 'paused', t: 1 },
      { type: 'questionQueued', t: 1, id: 'q1', text: 'hm?' },
      { type: 'thresholdChanged', threshold: 0.5 },
    ];
    expect(apply(b, others)).toEqual(others.map(() => undefined));
    expect(b).toEqual(before);
  });
});
