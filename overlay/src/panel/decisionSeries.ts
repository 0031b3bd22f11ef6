import type { BusEvent, SpeechTrigger } from '../../../src/protocol/index.ts';

/** A fixed-capacity ring of numbers: pushing past capacity overwrites the oldest,
 * so hours of frames at 2 fps hold the same memory as the first minutes. */
export class NumberRing {
  private readonly values: Float64Array;
  private start = 0;
  length = 0;

  constructor(readonly capacity: number) {
    this.values = new Float64Array(capacity);
  }

  push(value: number): void {
    const end = (this.start + this.length) % this.capacity;
    this.values[end] = value;
    if (this.length < this.capacity) this.length++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** The i-th value, oldest first. */
  at(i: number): number {
    return this.values[(this.start + i) % this.capacity]!;
  }

  /** Drops the oldest `n` values. */
  dropOldest(n: number): void {
    const k = Math.min(n, this.length);
    this.start = (this.start + k) % this.capacity;
    this.length -= k;
  }
}

/** Commentary held off between `start` and `end` (video seconds; end null: still paused). */
export interface PauseSpan {
  start: number;
  end: number | null;
  reason: 'manual' | 'scene';
}

export interface DecisionSeries {
  readonly windowS: number;
  /** Frame times and P(interval), oldest first. */
  readonly t: NumberRing;
  readonly p: NumberRing;
  /** Spoken lines: time and trigger (0 self, 1 question). */
  readonly markerT: NumberRing;
  readonly markerKind: NumberRing;
  spans: PauseSpan[];
  /** A span waiting for the next frame to close it: while paused no frame reaches
   * the engine, so the pause ends, in video time, at the first frame after it. */
  closing: PauseSpan[];
  lastT: number;
}

/** What the chart draws: aligned arrays (uPlot's shape) plus the pause spans. */
export interface DecisionData {
  t: number[];
  p: number[];
  /** P(interval) at frames where the model spoke by itself, else null. */
  self: Array<number | null>;
  /** P(interval) at frames where it answered a question, else null. */
  question: Array<number | null>;
  spans: PauseSpan[];
}

/** Frames kept at most: the window at 2 fps with room for faster sources (`fast`),
 * whose frames are also cut to the window. */
const DEFAULT_CAPACITY = 4096;
const MARKER_CAPACITY = 1024;

export function newDecisionSeries(windowS = 300, capacity = DEFAULT_CAPACITY): DecisionSeries {
  return {
    windowS, t: new NumberRing(capacity), p: new NumberRing(capacity),
    markerT: new NumberRing(MARKER_CAPACITY), markerKind: new NumberRing(MARKER_CAPACITY),
    spans: [], closing: [], lastT: 0,
  };
}

const KIND: Record<SpeechTrigger, number> = { self: 0, question: 1 };

function openSpan(s: DecisionSeries, reason: PauseSpan['reason']): void {
  if (s.spans.some((x) => x.end === null && x.reason === reason && !s.closing.includes(x))) return;
  s.spans.push({ start: s.lastT, end: null, reason });
}

function closeSpan(s: DecisionSeries, reason: PauseSpan['reason']): void {
  const open = s.spans.find((x) => x.end === null && x.reason === reason && !s.closing.includes(x));
  if (open) s.closing.push(open);
}

function addFrame(s: DecisionSeries, t: number, p: number): void {
  // A source that starts over (a looped file, a restart) begins a new picture.
  if (s.t.length && t < s.lastT) clearSeries(s);
  s.t.push(t);
  s.p.push(p);
  s.lastT = t;
  for (const span of s.closing.splice(0)) span.end = t;
  trim(s);
}

function clearSeries(s: DecisionSeries): void {
  s.t.dropOldest(s.t.length);
  s.p.dropOldest(s.p.length);
  s.markerT.dropOldest(s.markerT.length);
  s.markerKind.dropOldest(s.markerKind.length);
  s.spans = s.spans.filter((x) => x.end === null).map((x) => ({ ...x, start: 0 }));
  s.closing = [];
}

/** Keeps the last `windowS` seconds: older frames, markers and spans go. */
function trim(s: DecisionSeries): void {
  const from = s.lastT - s.windowS;
  let n = 0;
  while (n < s.t.length && s.t.at(n) < from) n++;
  s.t.dropOldest(n);
  s.p.dropOldest(n);
  let m = 0;
  while (m < s.markerT.length && s.markerT.at(m) < from) m++;
  s.markerT.dropOldest(m);
  s.markerKind.dropOldest(m);
  s.spans = s.spans.filter((x) => x.end === null || x.end >= from);
}

/** Folds one bus event into the series; returns whether the picture changed. */
export function applyToSeries(s: DecisionSeries, event: BusEvent): boolean {
  switch (event.type) {
    case 'frame':
      addFrame(s, event.t, event.pInterval);
      return true;
    case 'say':
      // An answer that was EOS alone said nothing: no marker (the transcript drops it too).
      if (!event.text) return false;
      s.markerT.push(event.t);
      s.markerKind.push(KIND[event.trigger]);
      return true;
    case 'paused':
      openSpan(s, 'manual');
      return true;
    case 'resumed':
      closeSpan(s, 'manual');
      return true;
    case 'scenePause':
      if (event.paused) openSpan(s, 'scene');
      else closeSpan(s, 'scene');
      return true;
    default:
      return false;
  }
}

/** A panel that connects (or reconnects) during a pause missed its event: the status
 * it gets on connecting opens the span, or closes one whose end it missed. */
export function syncPauses(s: DecisionSeries, status: { paused: boolean; pauseScene: string | null }): boolean {
  const isOpen = (reason: PauseSpan['reason']) => s.spans.some((x) => x.end === null && x.reason === reason && !s.closing.includes(x));
  let changed = false;
  for (const [reason, paused] of [['manual', status.paused], ['scene', status.pauseScene !== null]] as const) {
    if (paused === isOpen(reason)) continue;
    if (paused) openSpan(s, reason);
    else closeSpan(s, reason);
    changed = true;
  }
  return changed;
}

/** The series as the chart draws it. Markers sit on their frame's P(interval)
 * (a line is spoken at the time of the frame that started it). */
export function decisionData(s: DecisionSeries): DecisionData {
  const kinds = new Map<number, number>();
  for (let i = 0; i < s.markerT.length; i++) kinds.set(s.markerT.at(i), s.markerKind.at(i));
  const data: DecisionData = { t: [], p: [], self: [], question: [], spans: s.spans.map((x) => ({ ...x })) };
  for (let i = 0; i < s.t.length; i++) {
    const t = s.t.at(i);
    const p = s.p.at(i);
    const kind = kinds.get(t);
    data.t.push(t);
    data.p.push(p);
    data.self.push(kind === KIND.self ? p : null);
    data.question.push(kind === KIND.question ? p : null);
  }
  return data;
}
