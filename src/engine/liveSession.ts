import type { EngineEventListener, SpeechTrigger } from '../protocol/index.js';
import { CachePolicy, type SessionKvCache, type SpanKind } from './kvCache.js';
import { UserError } from '../util/errors.js';
import { Layout } from './layout.js';
import { SceneCut } from './sceneCut.js';
import type { ModelManifest } from './manifest.js';
import type { TimingListener } from './timing.js';
import type { TextCodec } from './tokenizer.js';

export interface Frame {
  /** Video time in seconds. */
  t: number;
  /** RGB24 at the model's resolution. */
  rgb: Uint8Array;
}

export interface Question {
  id: string;
  t: number;
  text: string;
  asker?: string;
}

export interface SessionOptions {
  threshold?: number;
  maxNewTokens?: number;
  /** The KV cache's token budget (the cache policy's); the model's maxContext by default. */
  context?: number;
}

/** A frame's decision, before it is emitted: next is the token it leaves pending. */
interface Decision {
  pInterval: number;
  kind: 'answer' | 'speak' | 'silent';
  next: number;
}

/** Tokens a question may take; longer ones are cut (flooding must not eat the context). */
const MAX_QUESTION_TOKENS = 256;

/** What a LiveSession uses of a model: LiveModel in the daemon, a fake in unit
 * tests. Stateless: all stream state is in the session and its KV cache. */
export interface SessionModel {
  readonly manifest: ModelManifest;
  readonly codec: TextCodec;
  newKvCache(): SessionKvCache;
  /** Frames one forward may take (1: the logits after the last position only). */
  readonly framesPerStep: number;
  /** RGB frames to their tokensPerFrame embeddings each, flattened, in one run. */
  encodeFrames(rgbs: Uint8Array[]): Promise<Float32Array[]>;
  /** Token ids to embeddings, flattened. */
  embed(ids: readonly number[]): Promise<Float32Array>;
  /** Appends embeddings to the cache (one made by newKvCache); returns the logits
   * after the new positions in `rows` (the last by default), flattened. */
  forward(kvCache: SessionKvCache, embeds: Float32Array, rows?: readonly number[]): Promise<Float32Array>;
  /** Told how long sampling takes (the benchmark's profile). */
  onTiming?: TimingListener | undefined;
}

/**
 * The VideoLLM-online streaming loop (their LiveInfer). Per frame: answer questions
 * asked before it, feed the pending ids and the frame, answer a question asked at
 * its time, else let P(interval) against the threshold decide between silence and
 * speech. All stream state is here: kvCache, lastIds, pendingQuestions.
 */
export class LiveSession {
  threshold: number;
  readonly maxNewTokens: number;
  private readonly layout: Layout;
  private readonly kvCache: SessionKvCache;
  /** What the cache holds, and what to evict when the budget is reached. */
  private readonly cachePolicy: CachePolicy;
  /** Where the package declares how: new scenes, whose earlier frames leave the cache. */
  private readonly sceneCut: SceneCut | undefined;
  /** Decided but not yet fed: the interval token, or EOS that closed an answer. */
  private lastIds: number[] = [];
  private pendingQuestions: Question[] = [];
  private nextQuestionId = 1;
  /** The frames pushed so far, each decoded after the one before. */
  private steps: Promise<void> = Promise.resolve();

  constructor(
    private readonly model: SessionModel,
    private readonly emit: EngineEventListener,
    options: SessionOptions = {},
  ) {
    this.layout = new Layout(model.codec, model.manifest);
    this.kvCache = model.newKvCache();
    this.threshold = options.threshold ?? model.manifest.generation.threshold;
    this.maxNewTokens = options.maxNewTokens ?? model.manifest.generation.maxNewTokens;
    const { maxContext } = model.manifest.decoder;
    // The start prompt, two frames and the room a frame reserves for its turn.
    const least = this.layout.startIds.length + 2 * (model.manifest.vision.tokensPerFrame + 1) + this.turnRoom;
    const budget = options.context ?? maxContext;
    if (!Number.isInteger(budget) || budget > maxContext || budget < least) {
      throw new UserError(`context ${budget} is out of range for model ${model.manifest.id}: ${least}-${maxContext} tokens`);
    }
    this.cachePolicy = new CachePolicy(this.kvCache, budget);
    const { sceneCut, tokensPerFrame } = model.manifest.vision;
    this.sceneCut = sceneCut && new SceneCut(sceneCut, tokensPerFrame);
  }

  /** Queues a question asked at video time t (answered in time order). */
  ask(t: number, text: string, asker?: string): Question {
    const q: Question = { id: `q${this.nextQuestionId++}`, t, text, ...(asker ? { asker } : {}) };
    const at = this.pendingQuestions.findIndex((p) => p.t > t);
    this.pendingQuestions.splice(at < 0 ? this.pendingQuestions.length : at, 0, q);
    return q;
  }

  get contextLength(): number {
    return this.kvCache.length;
  }

  /** The cache policy's token budget. */
  get contextBudget(): number {
    return this.cachePolicy.budget;
  }

  get kvCacheLocation(): string {
    return this.kvCache.location;
  }

  /** Takes the next frame. Its encoding starts at once (on the CPU in the vision
   * thread); the rest waits for the frames pushed before it. A caller that pushes
   * frame k+1 before awaiting frame k overlaps encoding with decoding; events keep
   * frame order either way. */
  pushFrame(frame: Frame): Promise<void> {
    return this.pushFrames([frame]);
  }

  /** Takes the next frames, in time order, as pushFrame does: encoded in one run,
   * and decoded up to model.framesPerStep in one run (see step), with the events,
   * decisions and cache of frame-by-frame pushes. For frames that wait (run
   * --fast, eval, soak, bench): a live source pushes each frame as it comes. */
  pushFrames(frames: Frame[]): Promise<void> {
    if (frames.length === 0) return this.steps;
    const encoding = this.model.encodeFrames(frames.map((f) => f.rgb));
    encoding.catch(() => undefined); // its step awaits it and reports the error
    const step = this.steps.then(() => this.stepFrames(frames, encoding));
    this.steps = step.catch(() => undefined);
    return step;
  }

  private async stepFrames(frames: Frame[], encoding: Promise<Float32Array[]>): Promise<void> {
    await this.answerBefore(frames[0]!.t);
    const embeds = await encoding;
    const cuts = embeds.map((e) => this.sceneCut?.next(e) ?? false);
    for (let i = 0; i < frames.length; ) i += await this.step(frames.slice(i), embeds.slice(i), cuts.slice(i));
  }

  /**
   * Feeds frames[0] and decides it. The frames after it join the same decoder run
   * (VideoLLM-online feeds frames one by one; the result is theirs) while each
   * would be fed unchanged if the one before stays silent: after the interval
   * token, with no scene cut, no question due by its time and room without a
   * compaction. The decisions are then read in order; the frames after the first
   * that does not stay silent leave the cache and come again. Returns the number
   * of frames taken.
   */
  private async step(frames: Frame[], embeds: Float32Array[], cuts: boolean[]): Promise<number> {
    const frame = frames[0]!;
    await this.answerBefore(frame.t);
    if (cuts[0]) await this.dropFrames(frame.t);
    const tokensPerFrame = this.model.manifest.vision.tokensPerFrame;
    // Room for the frame and the turn it may start, so that nothing after it resets
    // or compacts the context (a reset would drop the frame before it is spoken
    // about): the self-speak prompt that generate() feeds without a check of its
    // own, or a question asked at the frame's time (its text, cut to
    // MAX_QUESTION_TOKENS, and role markers), and the answer. layout.turnOverhead
    // covers the larger of the prompt and the markers.
    await this.makeRoom(frame.t, this.pendingPrefix(true).length + tokensPerFrame + this.turnRoom);
    const prefixIds = this.pendingPrefix(true);
    const prefixKind = this.prefixKind(prefixIds);
    const first = prefixIds.length + tokensPerFrame;
    const span = 1 + tokensPerFrame; // a later frame: the interval token and the frame
    const n = this.framesInRun(frames, cuts, first, tokensPerFrame + (prefixKind === 'frame' ? prefixIds.length : 0), span);
    const inputs = [await this.model.embed(prefixIds), embeds[0]!];
    const interval = n > 1 ? await this.model.embed([this.layout.intervalId]) : undefined;
    for (let j = 1; j < n; j++) inputs.push(interval!, embeds[j]!);
    const start = this.kvCache.length;
    const rows = Array.from({ length: n }, (_, j) => first - 1 + j * span);
    const logits = await this.model.forward(this.kvCache, concat(inputs), rows);
    this.lastIds = [];
    const sampling = performance.now();
    const vocab = logits.length / n;
    const decisions: Decision[] = [];
    do decisions.push(this.decide(frames[decisions.length]!, logits.subarray(decisions.length * vocab, (decisions.length + 1) * vocab)));
    while (decisions.length < n && decisions.at(-1)!.kind === 'silent' && !this.questionBy(frames[decisions.length]!.t));
    this.model.onTiming?.('sampling', performance.now() - sampling, decisions.length);
    const taken = decisions.length;
    if (taken < n) this.kvCache.truncate(start + first + (taken - 1) * span);
    this.record([[prefixKind, prefixIds.length], ['frame', tokensPerFrame]]);
    for (let j = 1; j < taken; j++) this.record([['frame', span]]);
    for (const [j, d] of decisions.entries()) await this.act(frames[j]!, d);
    return taken;
  }

  /** How many of `frames` one run takes (see step): `first` positions for frames[0]
   * (`firstFrameTokens` of them the frame's), then `span` for each frame after it
   * while it can follow unchanged and the budget's check before it would pass as is. */
  private framesInRun(frames: Frame[], cuts: boolean[], first: number, firstFrameTokens: number, span: number): number {
    const most = Math.min(frames.length, this.model.framesPerStep);
    let n = 1;
    while (n < most && !cuts[n] && !this.questionBy(frames[n]!.t) && this.cachePolicy.fits(span + this.turnRoom, first + (n - 1) * span, firstFrameTokens + (n - 1) * span)) n++;
    return n;
  }

  /** What a frame's logits decide: answer a question due at its time, else
   * P(interval) against the threshold (under it the interval token may not win:
   * the likeliest other token does). */
  private decide(frame: Frame, logits: Float32Array): Decision {
    const { pInterval, best, bestOther } = readLogits(logits, this.layout.intervalId);
    if (this.questionBy(frame.t)) return { pInterval, kind: 'answer', next: best };
    const next = pInterval < this.threshold ? bestOther : best;
    return { pInterval, kind: next === this.layout.intervalId ? 'silent' : 'speak', next };
  }

  /** Emits a frame's decision and carries it out. */
  private async act(frame: Frame, d: Decision): Promise<void> {
    this.emit({ type: 'frame', t: frame.t, pInterval: d.pInterval, decision: d.kind });
    if (d.kind === 'answer') {
      while (this.questionBy(frame.t)) await this.answer(this.pendingQuestions.shift()!, frame.t);
    } else if (d.kind === 'speak') await this.generate(this.layout.selfSpeakIds, frame.t, 'self');
    else this.lastIds = [d.next];
  }

  /** Answers the questions asked before `t` (they come before the frame at t). */
  private async answerBefore(t: number): Promise<void> {
    while (this.pendingQuestions.length && this.pendingQuestions[0]!.t < t) await this.answer(this.pendingQuestions.shift()!);
  }

  /** Whether a question is due by video time t. */
  private questionBy(t: number): boolean {
    return this.pendingQuestions.length > 0 && this.pendingQuestions[0]!.t <= t;
  }

  /** At the end of a stream, answers questions asked up to `t`. */
  async finish(t: number): Promise<void> {
    await this.steps;
    while (this.pendingQuestions.length && this.pendingQuestions[0]!.t <= t) await this.answer(this.pendingQuestions.shift()!);
  }

  /** What must be fed before new input: the start prompt on an empty cache; EOS
   * and the stream re-opening after an answer; the interval token before a frame
   * (a question closes the frame list itself, so it drops it). */
  private pendingPrefix(forFrame: boolean): number[] {
    if (this.kvCache.length === 0) return [...this.layout.startIds];
    if (this.lastIds.at(-1) === this.layout.eosId) return [...this.lastIds, ...this.layout.afterEosIds];
    return forFrame ? this.lastIds : [];
  }

  /** What a frame reserves for the turn it may start (see step). */
  private get turnRoom(): number {
    return MAX_QUESTION_TOKENS + this.layout.turnOverhead + this.maxNewTokens;
  }

  /** The start prompt is the sink; a lone interval token belongs to the frame after it; EOS and the re-opening are text. */
  private prefixKind(prefix: readonly number[]): SpanKind {
    if (this.kvCache.length === 0) return 'sink';
    return prefix.length === 1 && prefix[0] === this.layout.intervalId ? 'frame' : 'text';
  }

  /** Appends to the cache and tells the policy what the new positions hold. */
  private async feed(spans: Array<[SpanKind, number]>, embeds: Float32Array): Promise<Float32Array> {
    const logits = await this.model.forward(this.kvCache, embeds);
    this.record(spans);
    return logits;
  }

  /** Tells the policy what one forward's positions hold (a frame with the interval
   * token before it is one span). */
  private record(spans: Array<[SpanKind, number]>): void {
    const merged = spans.reduce<Array<[SpanKind, number]>>((out, [kind, n]) => {
      if (out.at(-1)?.[0] === kind) out.at(-1)![1] += n;
      else out.push([kind, n]);
      return out;
    }, []);
    for (const [kind, length] of merged) this.cachePolicy.record(kind, length);
  }

  private async answer(q: Question, t = q.t): Promise<void> {
    this.emit({ type: 'question', t, id: q.id, text: q.text, ...(q.asker ? { asker: q.asker } : {}) });
    const query = this.layout.queryIds(q.text, MAX_QUESTION_TOKENS);
    // The query has its role markers; the answer feeds at most maxNewTokens - 1
    // more (its last token waits in lastIds, checked with the next prefix). Within
    // what pushFrame reserved for a question at the frame's time.
    await this.makeRoom(t, this.pendingPrefix(false).length + query.length + this.maxNewTokens);
    const prefix = this.pendingPrefix(false);
    await this.generate([...prefix, ...query], t, 'question', q.id, [[this.prefixKind(prefix), prefix.length], ['text', query.length]]);
  }

  /** Greedy decoding until EOS or maxNewTokens. The last token is left unfed in
   * lastIds (with EOS appended when the cap cut the turn, so the turn is closed). */
  private async generate(
    prompt: readonly number[],
    t: number,
    trigger: SpeechTrigger,
    questionId?: string,
    spans: Array<[SpanKind, number]> = [['text', prompt.length]],
  ): Promise<void> {
    const eos = this.layout.eosId;
    this.emit({ type: 'speechStart', t, trigger, ...(questionId ? { questionId } : {}) });
    let logits = await this.feed(spans, await this.model.embed(prompt));
    const out: number[] = [];
    let text = '';
    for (;;) {
      const next = argmax(logits);
      out.push(next);
      if (next === eos || out.length >= this.maxNewTokens) break;
      text = this.emitDelta(out, text, t);
      logits = await this.feed([['text', 1]], await this.model.embed([next]));
    }
    this.lastIds = out.at(-1) === eos ? [eos] : [out.at(-1)!, eos];
    const spoken = out.at(-1) === eos ? out.slice(0, -1) : out;
    const full = this.model.codec.decode(spoken);
    if (full.length > text.length && full.startsWith(text)) this.emit({ type: 'speechDelta', t, text: full.slice(text.length) });
    this.emit({ type: 'say', t, text: full.trim(), trigger, tokenIds: out, ...(questionId ? { questionId } : {}) });
  }

  /** Streams newly decoded text, holding back an incomplete UTF-8 sequence. */
  private emitDelta(ids: number[], sent: string, t: number): string {
    const now = this.model.codec.decode(ids);
    if (now.endsWith('\uFFFD') || !now.startsWith(sent) || now.length === sent.length) return sent;
    this.emit({ type: 'speechDelta', t, text: now.slice(sent.length) });
    return now;
  }

  /** A new scene: the frames before it leave the cache, their text stays. */
  private async dropFrames(t: number): Promise<void> {
    const plan = await this.cachePolicy.dropFrames();
    if (plan) this.emit({ type: 'compaction', t, evictedFrameTokens: plan.evictedFrameTokens, evictedTextTokens: plan.evictedTextTokens, keptTokens: plan.keep.length });
  }

  /** Keeps the next step within the budget (the policy decides how); a stream
   * that starts over drops its pending ids too. */
  private async makeRoom(t: number, needed: number): Promise<void> {
    const room = await this.cachePolicy.makeRoom(needed);
    if (room.kind === 'compacted') {
      const { evictedFrameTokens, evictedTextTokens } = room.plan;
      this.emit({ type: 'compaction', t, evictedFrameTokens, evictedTextTokens, keptTokens: room.keptTokens });
    } else if (room.kind === 'reset') {
      this.emit({ type: 'contextReset', t, droppedTokens: room.droppedTokens });
      this.lastIds = [];
    }
  }
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** What a frame's decision reads of the logits, in two passes and no allocation:
 * P(interval) by a softmax in float64 (it is compared with the threshold), the
 * argmax, and the argmax without the interval token (exp is monotonic, so these
 * are the softmax's argmaxes). */
export function readLogits(logits: Float32Array, intervalId: number): { pInterval: number; best: number; bestOther: number } {
  let max = -Infinity;
  let best = 0;
  let bestOther = intervalId === 0 ? 1 : 0;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (v > max) (max = v), (best = i);
    if (i !== intervalId && v > logits[bestOther]!) bestOther = i;
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return { pInterval: Math.exp(logits[intervalId]! - max) / sum, best, bestOther };
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}
