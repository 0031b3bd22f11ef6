import { describe, expect, it } from 'vitest';
import { applyToSeries, decisionData, newDecisionSeries, NumberRing, syncPauses } from '../overlay/src/panel/decisionSeries.js';
import type { BusEvent } from '../src/protocol/index.js';

/** The control panel's decision chart data: a ring of frames cut to a time window,
 * spoken-line markers and pause spans (DecisionChart.svelte draws it with uPlot). */

const frame = (t: number, pInterval = 0.9): BusEvent => ({ type: 'frame', t, pInterval, decision: 'silent' });
const say = (t: number, trigger: 'self' | 'question' = 'self', text = 'hi'): BusEvent => ({ type: 'say', t, text, trigger, tokenIds: [] });

describe('NumberRing', () => {
  it('keeps the newest values in order once full', () => {
    const ring = new NumberRing(3);
    for (const x of [1, 2, 3, 4, 5]) ring.push(x);
    expect([ring.at(0), ring.at(1), ring.at(2)]).toEqual([3, 4, 5]);
    expect(ring.length).toBe(3);
    ring.dropOldest(2);
    expect([ring.length, ring.at(0)]).toEqual([1, 5]);
    ring.push(6);
    expect([ring.at(0), ring.at(1)]).toEqual([5, 6]);
  });
});

describe('decision series', () => {
  it('holds a point per frame over the window, older frames dropped', () => {
    const s = newDecisionSeries(10);
    for (let i = 0; i <= 40; i++) applyToSeries(s, frame(i / 2, i / 100));
    const d = decisionData(s);
    expect(d.t[0]).toBe(10);
    expect(d.t.at(-1)).toBe(20);
    expect(d.t).toHaveLength(21);
    expect(d.p[0]).toBeCloseTo(0.2);
  });

  it('never holds more than its capacity, however fast frames come', () => {
    const s = newDecisionSeries(1e9, 100);
    for (let i = 0; i < 10_000; i++) applyToSeries(s, frame(i / 1000));
    expect(decisionData(s).t).toHaveLength(100);
    expect(decisionData(s).t.at(-1)).toBe(9.999);
  });

  it('puts a spoken line on its frame, by trigger; an empty answer gets none', () => {
    const s = newDecisionSeries();
    [frame(1, 0.3), say(1, 'self'), frame(1.5, 0.95), frame(2, 0.4), say(2, 'question'), frame(2.5, 0.5), say(2.5, 'question', '')].forEach((e) => applyToSeries(s, e));
    const d = decisionData(s);
    expect(d.self).toEqual([0.3, null, null, null]);
    expect(d.question).toEqual([null, null, 0.4, null]);
  });

  it('shades a manual pause from its frame to the first frame after resume', () => {
    const s = newDecisionSeries();
    [frame(1), frame(1.5), { type: 'paused', t: 1.5 } as BusEvent].forEach((e) => applyToSeries(s, e));
    expect(decisionData(s).spans).toEqual([{ start: 1.5, end: null, reason: 'manual' }]);
    applyToSeries(s, { type: 'resumed', t: 1.5 });
    expect(decisionData(s).spans[0]!.end).toBeNull(); // no frame yet: the pause lasts until one comes
    applyToSeries(s, frame(7));
    expect(decisionData(s).spans).toEqual([{ start: 1.5, end: 7, reason: 'manual' }]);
  });

  it('shades a pause scene the same way, and drops spans that left the window', () => {
    const s = newDecisionSeries(10);
    [frame(1), { type: 'scenePause', paused: true, scene: 'BRB' } as BusEvent, { type: 'scenePause', paused: false, scene: 'BRB' } as BusEvent, frame(3)].forEach((e) => applyToSeries(s, e));
    expect(decisionData(s).spans).toEqual([{ start: 1, end: 3, reason: 'scene' }]);
    applyToSeries(s, frame(20));
    expect(decisionData(s).spans).toEqual([]);
  });

  it('starts over when the source starts over (time goes back)', () => {
    const s = newDecisionSeries();
    [frame(50), say(50), frame(51), frame(0.5)].forEach((e) => applyToSeries(s, e));
    const d = decisionData(s);
    expect(d.t).toEqual([0.5]);
    expect(d.self).toEqual([null]);
  });

  it('ignores events the chart does not draw', () => {
    const s = newDecisionSeries();
    expect(applyToSeries(s, { type: 'speechDelta', t: 1, text: 'x' })).toBe(false);
    expect(decisionData(s).t).toEqual([]);
  });

  it('takes a pause it missed from the status, and closes one whose end it missed', () => {
    const s = newDecisionSeries();
    applyToSeries(s, frame(4));
    expect(syncPauses(s, { paused: true, pauseScene: null })).toBe(true);
    expect(syncPauses(s, { paused: true, pauseScene: null })).toBe(false); // already open
    expect(decisionData(s).spans).toEqual([{ start: 4, end: null, reason: 'manual' }]);
    expect(syncPauses(s, { paused: false, pauseScene: 'BRB' })).toBe(true);
    applyToSeries(s, frame(9));
    expect(decisionData(s).spans).toEqual([{ start: 4, end: 9, reason: 'manual' }, { start: 4, end: null, reason: 'scene' }]);
  });
});
