import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VISION_SHARE, type Compaction, type SessionKvCache } from '../src/engine/kvCache.js';
import { Layout } from '../src/engine/layout.js';
import { LiveSession, type SessionModel, type SessionOptions } from '../src/engine/liveSession.js';
import { readManifest, type ModelManifest } from '../src/engine/manifest.js';
import type { LiveModel } from '../src/engine/model.js';
import { TextCodec } from '../src/engine/tokenizer.js';
import type { EngineEvent } from '../src/protocol/events.js';

/** LiveSession's streaming loop against a fake model: no onnxruntime. The fake
 * uses the fixture's manifest and tokenizer (so the real Layout applies), records
 * everything fed, and answers from a script: P(interval) per frame, and the
 * tokens of each reply. */

// The daemon's model is one the session takes (checked by tsc).
const _liveModelIsASessionModel = (m: LiveModel): SessionModel => m;
void _liveModelIsASessionModel;

const FIXTURE = join(dirname(fileURLToPath(import.meta.url)), 'fixtures/tiny-random');
const pkg = readManifest(FIXTURE);
const codec = TextCodec.load(pkg);
const layout = new Layout(codec, pkg.manifest);
const EOS = layout.eosId;
const INTERVAL = layout.intervalId;
/** The token a frame's logits offer against the interval token. */
const OTHER = codec.encode('x')[0]!;
const K = pkg.manifest.vision.tokensPerFrame;
const MAX_QUESTION_TOKENS = 256;

/** Frame k's embeddings, as the fake feeds them: K values of -1 - k. */
const F = (k: number): number[] => Array<number>(K).fill(-1 - k);

class FakeCache implements SessionKvCache {
  items: number[] = [];
  resets = 0;
  truncations = 0;
  readonly compactions: Compaction[] = [];
  readonly location = 'fake';
  constructor(readonly canCompact: boolean) {}
  get length(): number {
    return this.items.length;
  }
  reset(): void {
    this.items = [];
    this.resets++;
  }
  truncate(length: number): void {
    expect(length).toBeLessThan(this.items.length);
    this.items.length = length;
    this.truncations++;
  }
  async compact(plan: Compaction): Promise<void> {
    // Kept positions in order; each moves back by the evicted positions before it.
    plan.keep.forEach((p, j) => expect(plan.delta[j]).toBe(p - j));
    expect(plan.keep.length).toBe(plan.delta.length);
    this.items = plan.keep.map((p) => this.items[p]!);
    this.compactions.push(plan);
  }
}

type Prompt = { kind: 'self' } | { kind: 'question'; text: string };

interface FakeOptions {
  maxContext?: number;
  /** Whether the cache can compact (a package with kv_shift.onnx). */
  compacts?: boolean;
  /** The budget the session is given (checked on every forward instead of maxContext). */
  budget?: number;
  /** P(interval) after frame k; 1 (silence) unless given. */
  pInterval?: (k: number) => number;
  /** The tokens the model produces for a prompt; EOS follows when they run out. */
  reply?: (p: Prompt) => number[];
  /** The package's scene tokens (manifest vision.sceneCut). */
  sceneCut?: ModelManifest['vision']['sceneCut'];
  /** Frame k's embeddings (default F(k)); the last must stay negative (the fake's frame mark). */
  frame?: (k: number) => number[];
  /** Frames one forward may take (default 1). */
  framesPerStep?: number;
}

const defaultReply = (p: Prompt): number[] => [...codec.encode(p.kind === 'self' ? 'hi' : `re ${p.text}`), EOS];

class FakeModel implements SessionModel {
  readonly manifest: ModelManifest;
  readonly codec = codec;
  cache: FakeCache | undefined;
  /** Everything fed, one forward call an entry (frame k's embeddings as -1 - k). */
  readonly calls: number[][] = [];
  /** Forward calls that fed several frames. */
  multiFrameCalls = 0;
  private reply: number[] = [];

  constructor(private readonly opts: FakeOptions = {}) {
    const m = pkg.manifest;
    this.manifest = { ...m, vision: { ...m.vision, sceneCut: opts.sceneCut }, decoder: { ...m.decoder, maxContext: opts.maxContext ?? m.decoder.maxContext } };
  }

  get fed(): number[] {
    return this.calls.flat();
  }

  newKvCache(): FakeCache {
    if (this.cache) throw new Error('one cache per session');
    return (this.cache = new FakeCache(this.opts.compacts ?? false));
  }

  get framesPerStep(): number {
    return this.opts.framesPerStep ?? 1;
  }

  async encodeFrames(rgbs: Uint8Array[]): Promise<Float32Array[]> {
    return rgbs.map((rgb) => Float32Array.from((this.opts.frame ?? F)(rgb[0]!)));
  }

  async embed(ids: readonly number[]): Promise<Float32Array> {
    return Float32Array.from(ids);
  }

  async forward(kvCache: SessionKvCache, embeds: Float32Array, rows?: readonly number[]): Promise<Float32Array> {
    const cache = kvCache as FakeCache;
    expect(cache).toBe(this.cache);
    const items = Array.from(embeds);
    expect(items.length).toBeGreaterThan(0);
    cache.items.push(...items);
    this.calls.push(items);
    if (cache.length > (this.opts.budget ?? this.manifest.decoder.maxContext)) throw new Error(`context overflow: ${cache.length} > ${this.manifest.decoder.maxContext}`);
    const at = rows ?? [items.length - 1];
    if (at.length > 1) {
      this.multiFrameCalls++;
      // Several frames in one run: each row must end one.
      return concatLogits(at.map((r) => {
        expect(items[r]!).toBeLessThan(0);
        return this.frameLogits(items[r]!);
      }));
    }
    const last = items[at[0]!]!;
    if (last < 0) return this.frameLogits(last);
    const text = codec.decode(items);
    if (text.endsWith('\nAssistant:')) {
      // A new turn: the self-speak prompt or a question's query.
      const q = /\nUser: (.*)\nAssistant:$/s.exec(text);
      this.reply = (this.opts.reply ?? defaultReply)(q ? { kind: 'question', text: q[1]!.trim() } : { kind: 'self' });
    }
    // Else the session fed back the token it took; the reply goes on.
    return logits([[this.reply.shift() ?? EOS, 1]]);
  }

  private frameLogits(mark: number): Float32Array {
    const p = this.opts.pInterval?.(-1 - mark) ?? 1;
    return logits([[INTERVAL, p], [OTHER, 1 - p]]);
  }
}

function concatLogits(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((n, r) => n + r.length, 0));
  rows.forEach((r, i) => out.set(r, i * r.length));
  return out;
}

function logits(probs: Array<[number, number]>): Float32Array {
  const out = new Float32Array(pkg.manifest.decoder.vocabSize).fill(-Infinity);
  for (const [id, p] of probs) out[id] = Math.log(p);
  return out;
}

function setup(opts: FakeOptions = {}, session: SessionOptions = {}) {
  const model = new FakeModel(opts);
  const events: EngineEvent[] = [];
  const s = new LiveSession(model, (e) => events.push(e), session);
  const push = (k: number, t: number) => s.pushFrame({ t, rgb: Uint8Array.of(k) });
  return { model, cache: model.cache!, events, session: s, push };
}

/** Events without the streaming deltas, as [type, t, detail]. */
const outline = (events: EngineEvent[]) =>
  events.filter((e) => e.type !== 'speechDelta').map((e) => {
    switch (e.type) {
      case 'frame': return [e.type, e.t, e.decision];
      case 'question': return [e.type, e.t, e.id];
      case 'speechStart': return [e.type, e.t, e.trigger, e.questionId];
      case 'say': return [e.type, e.t, e.text, e.questionId];
      case 'contextReset': return [e.type, e.t, e.droppedTokens];
      default: return [e.type, e.t, e.evictedFrameTokens, e.evictedTextTokens, e.keptTokens];
    }
  });

const deltas = (events: EngineEvent[]) => events.flatMap((e) => (e.type === 'speechDelta' ? [e.text] : []));
const says = (events: EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: 'say' }> => e.type === 'say');

describe('LiveSession with a fake model', () => {
  it('is silent, speaks below the threshold, and feeds the start prompt, interval token and EOS as the layout says', async () => {
    // P(interval) 0.6 is the argmax, but under the threshold 0.725: speak.
    const p = [0.9, 0.6, 0.9];
    const { model, cache, events, session, push } = setup({ pInterval: (k) => p[k]! });
    expect(session.threshold).toBe(0.725);
    for (let k = 0; k < 3; k++) await push(k, k / 2);
    const hi = codec.encode('hi');

    expect(outline(events)).toEqual([
      ['frame', 0, 'silent'],
      ['frame', 0.5, 'speak'],
      ['speechStart', 0.5, 'self', undefined],
      ['say', 0.5, 'hi', undefined],
      ['frame', 1, 'silent'],
    ]);
    const frames = events.filter((e) => e.type === 'frame');
    frames.forEach((e, k) => expect(e.pInterval).toBeCloseTo(p[k]!, 6));
    expect(says(events)[0]!.tokenIds).toEqual([...hi, EOS]);
    expect(deltas(events).join('')).toBe('hi');
    // The interval token of a silent frame is fed before the next frame; the EOS
    // that closed the turn (never fed by the turn itself) before the stream re-opens.
    expect(model.fed).toEqual([...layout.startIds, ...F(0), INTERVAL, ...F(1), ...layout.selfSpeakIds, ...hi, EOS, ...layout.afterEosIds, ...F(2)]);
    expect(cache.items).toEqual(model.fed);
    expect(session.contextLength).toBe(model.fed.length);
    expect(session.kvCacheLocation).toBe('fake');
  });

  it('takes its threshold from the options over the manifest', async () => {
    const { events, session, push } = setup({ pInterval: () => 0.6 }, { threshold: 0.5 });
    expect(session.threshold).toBe(0.5);
    await push(0, 0);
    expect(outline(events)).toEqual([['frame', 0, 'silent']]);
  });

  it('closes a turn cut at maxNewTokens with EOS, fed before the next input', async () => {
    const long = codec.encode('abcdefgh abcdefgh');
    expect(long.length).toBeGreaterThan(4);
    const { model, events, session, push } = setup({ pInterval: (k) => (k === 0 ? 0 : 1), reply: () => [...long] }, { maxNewTokens: 4 });
    expect(session.maxNewTokens).toBe(4);
    await push(0, 0);
    await push(1, 0.5);

    const cut = long.slice(0, 4);
    const [say] = says(events);
    expect(say!.tokenIds).toEqual(cut);
    expect(say!.text).toBe(codec.decode(cut).trim());
    expect(deltas(events).join('').trim()).toBe(say!.text);
    // The turn fed its prompt and 3 tokens; the 4th and the EOS that closes the turn come before frame 1.
    expect(model.fed).toEqual([...layout.startIds, ...F(0), ...layout.selfSpeakIds, ...cut, EOS, ...layout.afterEosIds, ...F(1)]);
    expect(model.calls.filter((c) => c.length === 1)).toHaveLength(3);
  });

  it.each([
    ['ends with EOS exactly at the cap', 'ab', 'ab'],
    ['is EOS alone', '', ''],
  ])('closes a turn once when it %s', async (_name, text, said) => {
    const ids = codec.encode(text);
    const { model, events, push } = setup({ pInterval: (k) => (k === 0 ? 0 : 1), reply: () => [...ids, EOS] }, { maxNewTokens: ids.length + 1 });
    await push(0, 0);
    await push(1, 0.5);
    expect(says(events).map((e) => [e.text, e.tokenIds])).toEqual([[said, [...ids, EOS]]]);
    expect(model.fed).toEqual([...layout.startIds, ...F(0), ...layout.selfSpeakIds, ...ids, EOS, ...layout.afterEosIds, ...F(1)]);
  });

  it('streams text without broken UTF-8 characters', async () => {
    const text = 'olé ✓ ça';
    const ids = codec.encode(text);
    expect(ids.length).toBeGreaterThan([...text].length); // some characters take several byte tokens
    const { events, push } = setup({ pInterval: () => 0, reply: () => [...ids, EOS] }, { maxNewTokens: 64 });
    await push(0, 0);
    const parts = deltas(events);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(part).not.toContain('\uFFFD');
    expect(parts.join('')).toBe(text);
    expect(says(events)[0]!.text).toBe(text);
  });

  it('answers questions in time order: those asked before a frame before it, one at its time at that frame', async () => {
    // Frame 1 would speak, but the question asked at its time takes the turn.
    const { model, events, session, push } = setup({ pInterval: (k) => (k === 1 ? 0 : 1) }, { maxNewTokens: 64 });
    // Asked out of order; equal times keep the order they were asked in.
    const late = session.ask(2.5, 'third');
    const first = session.ask(0.5, 'first', 'ann');
    const atOne = session.ask(1, 'at one');
    const firstToo = session.ask(0.5, 'first too');
    expect([late.id, first.id, atOne.id, firstToo.id]).toEqual(['q1', 'q2', 'q3', 'q4']);
    expect(first.asker).toBe('ann');
    for (let k = 0; k < 4; k++) await push(k, k);

    expect(outline(events)).toEqual([
      ['frame', 0, 'silent'],
      ['question', 0.5, 'q2'], ['speechStart', 0.5, 'question', 'q2'], ['say', 0.5, 're first', 'q2'],
      ['question', 0.5, 'q4'], ['speechStart', 0.5, 'question', 'q4'], ['say', 0.5, 're first too', 'q4'],
      ['frame', 1, 'answer'],
      ['question', 1, 'q3'], ['speechStart', 1, 'question', 'q3'], ['say', 1, 're at one', 'q3'],
      ['frame', 2, 'silent'],
      ['question', 2.5, 'q1'], ['speechStart', 2.5, 'question', 'q1'], ['say', 2.5, 're third', 'q1'],
      ['frame', 3, 'silent'],
    ]);
    expect(events.find((e) => e.type === 'question' && e.id === 'q2')).toMatchObject({ text: 'first', asker: 'ann' });
    expect(events.find((e) => e.type === 'question' && e.id === 'q4')).not.toHaveProperty('asker');
    expect(says(events).every((e) => e.trigger === 'question')).toBe(true);

    const answer = (q: string) => [...codec.encode(`re ${q}`), EOS];
    const reopen = [...layout.afterEosIds];
    expect(model.fed).toEqual([
      ...layout.startIds, ...F(0),
      // A question closes the frame list itself: the silent frame's interval token is dropped.
      ...layout.queryIds('first'), ...answer('first'),
      ...reopen, ...layout.queryIds('first too'), ...answer('first too'),
      ...reopen, ...F(1),
      // Asked at frame 1's time: the frame is seen first.
      ...layout.queryIds('at one'), ...answer('at one'),
      ...reopen, ...F(2),
      ...layout.queryIds('third'), ...answer('third'),
      ...reopen, ...F(3),
    ]);
  });

  it('finish answers the questions asked up to the end, no later ones', async () => {
    const { events, session, push } = setup({}, { maxNewTokens: 64 });
    session.ask(5, 'after');
    session.ask(2, 'at the end');
    await push(0, 0);
    await session.finish(2);
    expect(outline(events).filter((e) => e[0] === 'question')).toEqual([['question', 2, 'q2']]);
    await session.finish(5);
    expect(outline(events).filter((e) => e[0] === 'question')).toEqual([['question', 2, 'q2'], ['question', 5, 'q1']]);
  });

  describe('a full context', () => {
    const S = layout.startIds.length;
    const N = pkg.manifest.generation.maxNewTokens;
    /** What a frame reserves for the turn it may start. */
    const turnRoom = MAX_QUESTION_TOKENS + layout.turnOverhead + N;
    /** Frames 0-3 (silent) fit; frame 4 does not. */
    const afterFour = S + K + 3 * (K + 1);
    const maxContext = afterFour + turnRoom;

    it('reserves room for the longer of the self-speak prompt and a question\'s role markers', () => {
      expect(layout.turnOverhead).toBe(Math.max(layout.selfSpeakIds.length, layout.queryOverhead));
      expect(layout.queryIds('x'.repeat(2000), MAX_QUESTION_TOKENS)).toHaveLength(layout.queryOverhead + MAX_QUESTION_TOKENS);
      expect(layout.queryIds('')).toHaveLength(layout.queryOverhead + 1); // the space before the question
    });

    it('starts over from the start prompt, reporting the tokens dropped', async () => {
      const { model, cache, events, session, push } = setup({ maxContext });
      for (let k = 0; k < 4; k++) await push(k, k);
      expect(session.contextLength).toBe(afterFour);
      expect(events.some((e) => e.type === 'contextReset')).toBe(false);
      await push(4, 4);

      expect(outline(events).slice(3)).toEqual([['frame', 3, 'silent'], ['contextReset', 4, afterFour], ['frame', 4, 'silent']]);
      expect(cache.resets).toBe(1);
      // The cache holds the start prompt and frame 4; frame 3's interval token went with the rest.
      expect(cache.items).toEqual([...layout.startIds, ...F(4)]);
      expect(model.calls.at(-1)).toEqual([...layout.startIds, ...F(4)]);
      expect(session.contextLength).toBe(S + K);
    });

    it('starts over before a question that does not fit, then feeds the start prompt and the query', async () => {
      const { cache, events, session, push } = setup({ maxContext });
      for (let k = 0; k < 4; k++) await push(k, k);
      session.ask(3.5, 'one more');
      session.ask(3.5, 'y '.repeat(400)); // cut to 256 tokens
      await session.finish(3.5);
      const resets = events.filter((e) => e.type === 'contextReset');
      expect(resets).toHaveLength(1);
      // The first question fits after frame 3; the second does not.
      expect(outline(events).slice(3, 8)).toEqual([
        ['frame', 3, 'silent'],
        ['question', 3.5, 'q1'], ['speechStart', 3.5, 'question', 'q1'], ['say', 3.5, codec.decode(codec.encode('re one more').slice(0, N)).trim(), 'q1'],
        ['question', 3.5, 'q2'],
      ]);
      expect(events[events.findIndex((e) => e.type === 'question' && e.id === 'q2') + 1]).toMatchObject({ type: 'contextReset', t: 3.5 });
      expect(cache.items.slice(0, S + layout.queryOverhead + MAX_QUESTION_TOKENS)).toEqual([...layout.startIds, ...layout.queryIds('y '.repeat(400), MAX_QUESTION_TOKENS)]);
    });

    it('fits a question asked at a frame\'s time, at its longest, in the room the frame reserved', async () => {
      const longest = 'y '.repeat(400);
      const { model, cache, events, session, push } = setup({ maxContext, reply: () => codec.encode('z'.repeat(40)) });
      for (let k = 0; k < 3; k++) await push(k, k);
      session.ask(3, longest);
      await push(3, 3);
      // No reset between frame 3 and its question's answer, and the cache filled up to the last token.
      expect(events.some((e) => e.type === 'contextReset')).toBe(false);
      expect(outline(events).at(-4)).toEqual(['frame', 3, 'answer']);
      expect(model.calls.at(-N)).toEqual(layout.queryIds(longest, MAX_QUESTION_TOKENS));
      expect(cache.length).toBe(maxContext - 1); // the last answer token waits, unfed
      await push(4, 4);
      expect(outline(events).at(-2)).toEqual(['contextReset', 4, maxContext - 1]);
    });

    it('never overflows, and never separates a frame from the question asked at its time, whatever the stream', async () => {
      let seed = 42;
      const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
      const small = S + K + turnRoom + 40;
      const { model, events, session, push } = setup({
        maxContext: small,
        pInterval: () => rand(),
        reply: () => codec.encode('w'.repeat(Math.floor(rand() * 12))),
      });
      for (let k = 0; k < 150; k++) {
        const r = rand();
        if (r < 0.15) session.ask(k, 'q '.repeat(Math.floor(rand() * 300)));
        else if (r < 0.3) session.ask(k - rand(), 'q '.repeat(Math.floor(rand() * 40)));
        await push(k % 256, k); // the fake throws on overflow
      }
      const resets = events.filter((e) => e.type === 'contextReset');
      expect(resets.length).toBeGreaterThan(10);
      expect(model.cache!.resets).toBe(resets.length);
      for (const r of resets) expect(r.droppedTokens).toBeGreaterThan(0);
      const answerFrames = events.flatMap((e, i) => (e.type === 'frame' && e.decision === 'answer' ? [i] : []));
      expect(answerFrames.length).toBeGreaterThan(5);
      for (const i of answerFrames) {
        expect(events[i + 1]).toMatchObject({ type: 'question', t: events[i]!.t });
        expect(events[i + 2]).toMatchObject({ type: 'speechStart', trigger: 'question' }); // no contextReset between
      }
      expect(says(events).length).toBeGreaterThan(20);
    });
  });
});

describe('the cache policy (a package with kv_shift)', () => {
  const S = layout.startIds.length;
  const N = pkg.manifest.generation.maxNewTokens;
  const turnRoom = MAX_QUESTION_TOKENS + layout.turnOverhead + N;
  /** Room for about 20 frames besides the sink and a frame's reservation. */
  const budget = S + turnRoom + 20 * (K + 1);
  const compactions = (events: EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: 'compaction' }> => e.type === 'compaction');
  /** Frame numbers still cached, in cache order. */
  const framesIn = (items: number[]) => [...new Set(items.filter((v) => v < 0).map((v) => -1 - v))];
  const contains = (items: number[], part: readonly number[]) => items.some((_, i) => part.every((v, j) => items[i + j] === v));

  it('compacts instead of starting over: the sink stays, frames stay within the vision window, the oldest whole frames go, half the window at once', async () => {
    const { cache, events, session, push } = setup({ compacts: true, budget, maxContext: 8192 }, { context: budget });
    expect(session.contextBudget).toBe(budget);
    for (let k = 0; k < 100; k++) {
      await push(k % 256, k); // the fake throws past the budget
      expect(cache.items.slice(0, S)).toEqual([...layout.startIds]);
      const kept = framesIn(cache.items);
      expect(kept).toEqual(kept.map((_, i) => k - kept.length + 1 + i)); // a run of the latest frames
      // Whole frames: each with the interval token before it (frame 0 has none).
      expect(cache.items.slice(S).filter((v) => v === INTERVAL)).toHaveLength(kept.length - (kept[0] === 0 ? 1 : 0));
      expect(cache.items.length - S).toBe(kept.length * K + kept.length - (kept[0] === 0 ? 1 : 0));
      // Checked before each frame: at most the window and the frame just fed.
      expect(kept.length * (K + 1)).toBeLessThanOrEqual(Math.floor(budget / VISION_SHARE) + K + 1);
    }
    expect(events.some((e) => e.type === 'contextReset')).toBe(false);
    const done = compactions(events);
    expect(done.length).toBeGreaterThanOrEqual(3);
    expect(done.length).toBeLessThan(100 / 5); // amortised, not a frame at a time
    for (const c of done) {
      expect(c.evictedFrameTokens).toBeGreaterThanOrEqual(Math.floor(budget / VISION_SHARE / 2));
      expect(c.evictedTextTokens).toBe(0);
    }
    expect(cache.compactions.map((p) => p.keep.length)).toEqual(done.map((c) => c.keptTokens));
    expect(session.contextLength).toBe(cache.items.length);
  });

  it('keeps the text of a turn longer than the frames around it', async () => {
    const { cache, events, push, session } = setup({ compacts: true, budget, maxContext: 8192 }, { context: budget, maxNewTokens: N });
    session.ask(5.5, 'who scored');
    for (let k = 0; k < 60; k++) await push(k, k);
    expect(compactions(events).length).toBeGreaterThanOrEqual(2);
    expect(framesIn(cache.items)[0]).toBeGreaterThan(20); // frames 0-20, before and after the question, are gone
    expect(contains(cache.items, layout.queryIds('who scored'))).toBe(true);
    expect(contains(cache.items, codec.encode('re who scored'))).toBe(true);
    expect(events.some((e) => e.type === 'contextReset')).toBe(false);
  });

  it('evicts the oldest text once text fills the budget; the latest turns and frame stay', async () => {
    const { cache, events, push, session } = setup({ compacts: true, budget, maxContext: 8192, reply: () => codec.encode('w'.repeat(N)) }, { context: budget });
    for (let k = 0; k < 40; k++) {
      session.ask(k + 0.5, `question number ${k} ` + 'q '.repeat(20));
      await push(k, k);
    }
    const done = compactions(events);
    expect(done.some((c) => c.evictedTextTokens > 0)).toBe(true);
    expect(events.some((e) => e.type === 'contextReset')).toBe(false);
    expect(contains(cache.items, layout.queryIds('question number 0 ' + 'q '.repeat(20)))).toBe(false);
    expect(contains(cache.items, layout.queryIds('question number 38 ' + 'q '.repeat(20)))).toBe(true);
    expect(framesIn(cache.items).at(-1)).toBe(39); // the latest frame stays
  });

  it('never overflows nor starts over, and keeps a frame with the question asked at its time, whatever the stream', async () => {
    let seed = 7;
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    const { model, events, session, push } = setup({
      compacts: true,
      budget,
      maxContext: 8192,
      pInterval: () => rand(),
      reply: () => codec.encode('w'.repeat(Math.floor(rand() * 12))),
    }, { context: budget });
    for (let k = 0; k < 300; k++) {
      const r = rand();
      if (r < 0.1) session.ask(k, 'q '.repeat(Math.floor(rand() * 300)));
      else if (r < 0.25) session.ask(k - rand(), 'q '.repeat(Math.floor(rand() * 40)));
      await push(k % 256, k);
    }
    expect(events.some((e) => e.type === 'contextReset')).toBe(false);
    expect(model.cache!.resets).toBe(0);
    expect(compactions(events).length).toBeGreaterThan(10);
    const answerFrames = events.flatMap((e, i) => (e.type === 'frame' && e.decision === 'answer' ? [i] : []));
    for (const i of answerFrames) expect(events[i + 2]).toMatchObject({ type: 'speechStart', trigger: 'question' });
  });

  it('drops the frames before a new scene (the text stays), when the scene tokens turn away from the frame before', async () => {
    // Frames 0-5 and 6-11 are two scenes: token 1 is -1-k in the first, 1+k in the second
    // (cosine of tokens 0-1 to the frame before: 1 within a scene, 0 across the cut).
    const frame = (k: number) => [-1 - k, k < 6 ? -1 - k : 1 + k, ...Array<number>(K - 2).fill(-1 - k)];
    const { cache, events, push, session } = setup({ compacts: true, budget, maxContext: 8192, sceneCut: { tokens: [0, 1], minCosine: 0.5 }, frame }, { context: budget });
    session.ask(3.5, 'who scored');
    for (let k = 0; k < 12; k++) await push(k, k);
    const done = compactions(events);
    // Six frames, each but frame 0 and the one after the answer with its interval token.
    expect(done.map((c) => [c.t, c.evictedFrameTokens, c.evictedTextTokens])).toEqual([[6, 6 * K + 4, 0]]);
    const frameValues = new Set(cache.items.filter((v) => v < 0));
    for (let k = 0; k < 6; k++) expect(frameValues.has(-1 - k), `frame ${k}`).toBe(false);
    for (let k = 6; k < 12; k++) expect(frameValues.has(-1 - k), `frame ${k}`).toBe(true);
    expect(cache.items.slice(0, S)).toEqual([...layout.startIds]);
    expect(contains(cache.items, layout.queryIds('who scored'))).toBe(true);
    expect(contains(cache.items, codec.encode('re who scored'))).toBe(true);
    expect(events.some((e) => e.type === 'contextReset')).toBe(false);
  });

  it('does not cut where the scene tokens never hold still (a cache emptied at every frame helps nobody)', async () => {
    // Token 1 flips sign every frame: each frame is a "new scene" to the one before.
    const frame = (k: number) => [-1 - k, k % 2 ? 1 + k : -1 - k, ...Array<number>(K - 2).fill(-1 - k)];
    const { events, push } = setup({ compacts: true, budget, maxContext: 8192, sceneCut: { tokens: [0, 1], minCosine: 0.5 }, frame }, { context: budget });
    for (let k = 0; k < 12; k++) await push(k, k);
    expect(compactions(events)).toEqual([]);
  });

  it('refuses a budget outside the model\'s range', () => {
    const least = S + 2 * (K + 1) + turnRoom;
    expect(() => setup({ compacts: true }, { context: least - 1 })).toThrow(/context .* out of range .*: \d+-8192 tokens/);
    expect(() => setup({ compacts: true }, { context: 8193 })).toThrow(/out of range/);
    expect(setup({ compacts: true }, { context: least }).session.contextBudget).toBe(least);
  });
});

describe('several frames a decoder run (model.framesPerStep)', () => {
  const S = layout.startIds.length;
  const N = pkg.manifest.generation.maxNewTokens;
  const turnRoom = MAX_QUESTION_TOKENS + layout.turnOverhead + N;
  /** P(interval) of frame k: fixed per frame, as a frame fed twice must get it twice. */
  const pOf = (k: number) => ((k * 2654435761) % 2 ** 32) / 2 ** 32;
  interface Asked { k: number; t: number; text: string }

  /** Questions asked while frame k is pushed: at its time or just before it. */
  function questions(count: number, seed: number): Asked[] {
    const rand = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
    return Array.from({ length: count }, (_, k) => k).flatMap((k) => {
      const r = rand();
      const text = 'q '.repeat(1 + Math.floor(rand() * 60));
      return r < 0.08 ? [{ k, t: k, text }] : r < 0.16 ? [{ k, t: k - 0.5, text }] : [];
    });
  }

  /** The stream pushed `perStep` frames at a time; the questions of a step's frames are asked before it. */
  async function play(perStep: number, opts: FakeOptions, session: SessionOptions, frames: number, asked: Asked[]) {
    let replies = 0;
    const run = setup({ ...opts, framesPerStep: perStep, reply: () => codec.encode('w'.repeat(1 + (replies++ % 9))) }, session);
    for (let k = 0; k < frames; k += perStep) {
      const group = Array.from({ length: Math.min(perStep, frames - k) }, (_, j) => k + j);
      for (const q of asked) if (group.includes(q.k)) run.session.ask(q.t, q.text);
      await run.session.pushFrames(group.map((j) => ({ t: j, rgb: Uint8Array.of(j % 256) })));
    }
    return run;
  }

  /** Events (P(interval) and token ids included) and the cache after the stream. */
  const result = (run: Awaited<ReturnType<typeof play>>) => ({
    outline: outline(run.events),
    pInterval: run.events.flatMap((e) => (e.type === 'frame' ? [e.pInterval] : [])),
    ids: says(run.events).map((e) => e.tokenIds),
    cache: run.cache.items,
  });

  const cases: Array<[string, FakeOptions, SessionOptions]> = [
    ['a cache that starts over', { pInterval: (k) => 0.6 + 0.4 * pOf(k), maxContext: S + K + turnRoom + 60 }, {}],
    ['a cache that compacts', { pInterval: (k) => 0.6 + 0.4 * pOf(k), compacts: true, budget: S + turnRoom + 20 * (K + 1), maxContext: 8192 }, { context: S + turnRoom + 20 * (K + 1) }],
  ];
  it.each(cases)('gives the events and cache of frame-by-frame pushes, with %s', async (_name, opts, session) => {
    const asked = questions(200, 11);
    const one = await play(1, opts, session, 200, asked);
    const four = await play(4, opts, session, 200, asked);
    expect(result(four)).toEqual(result(one));
    // The runs did share frames, and did take back frames after a frame that spoke.
    expect(four.model.multiFrameCalls).toBeGreaterThan(10);
    expect(four.cache.truncations).toBeGreaterThan(3);
    expect(one.model.calls.length).toBeGreaterThan(four.model.calls.length);
    expect(says(one.events).length).toBeGreaterThan(10);
    expect(one.events.some((e) => e.type === (opts.compacts ? 'compaction' : 'contextReset'))).toBe(true);
  });

  it('gives the events and cache of frame-by-frame pushes across a scene cut', async () => {
    const frame = (k: number) => [-1 - k, k < 10 ? -1 - k : 1 + k, ...Array<number>(K - 2).fill(-1 - k)];
    const opts = { compacts: true, budget: S + turnRoom + 20 * (K + 1), maxContext: 8192, sceneCut: { tokens: [0, 1], minCosine: 0.5 }, frame };
    const session = { context: S + turnRoom + 20 * (K + 1) };
    const one = await play(1, opts, session, 20, []);
    const four = await play(4, opts, session, 20, []);
    await four.session.pushFrames([]); // nothing to take: no forward, no event
    expect(result(four)).toEqual(result(one));
    expect(one.events.filter((e) => e.type === 'compaction').map((e) => e.t)).toEqual([10]);
    expect(four.model.multiFrameCalls).toBeGreaterThan(2);
  });
});
