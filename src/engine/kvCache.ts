/** What a cached position holds: the start prompt (the attention sink, never
 * evicted), a frame (its embeddings and the interval token before it), or text
 * (questions, answers, own lines, the markers around them). */
export type SpanKind = 'sink' | 'frame' | 'text';

/** Positions to keep, in cache order, and how far back each moves (the evicted
 * positions before it), so positions stay contiguous. */
export interface Compaction {
  keep: number[];
  delta: number[];
  evictedFrameTokens: number;
  evictedTextTokens: number;
}

/** What a LiveSession itself needs of a KV cache; only the model reads and
 * writes its contents (a test's fake model brings its own). */
export interface SessionKvCache {
  /** Number of positions held. */
  readonly length: number;
  /** Where the cache lives, e.g. 'cpu' or 'gpu-buffer'. */
  readonly location: string;
  /** Whether compact() works (the package ships kv_shift.onnx). */
  readonly canCompact: boolean;
  /** Empties the cache (the stream starts over). */
  reset(): void;
  /** Keeps plan.keep and moves those keys back by plan.delta, on the cache's device. */
  compact(plan: Compaction): Promise<void>;
  /** Keeps the first `length` positions: frames decided in one run after a frame
   * that spoke leave (LiveSession.step). Only where model.framesPerStep > 1. */
  truncate(length: number): void;
}

/** Frames may hold 1/VISION_SHARE of the budget (the vision window); past it, the
 * oldest go until they hold half of it. */
export const VISION_SHARE = 4;
/** The text of the RECENT_TURNS latest turns stays when the frames around it go. */
export const RECENT_TURNS = 4;

/** What makeRoom did. */
export type RoomOutcome =
  | { kind: 'fits' }
  | { kind: 'compacted'; plan: Compaction; keptTokens: number }
  | { kind: 'reset'; droppedTokens: number };

/**
 * The cache policy for hours-long streams (StreamingLLM's sink + window, with
 * StreamingVLM's short vision window and longer-lived text): the start prompt
 * always stays; frames may hold a quarter of the token budget (VISION_SHARE);
 * when they would hold more, or the next step would exceed the budget, the
 * oldest spans go, frames and the text between them, until frames hold an eighth
 * (amortised: ~64 frames of cocaster-tiny at once) and the step fits (then at
 * least an eighth of the budget goes). The text of the RECENT_TURNS latest turns
 * is kept when the frames around it go (it goes last, oldest first).
 *
 * Why a short window: frames of what the stream showed minutes ago confuse the
 * model more than their absence does. Played as 10-match streams, cocaster-tiny
 * with frames filling the whole budget (up to ~330 frames, the previous
 * match's among them) raised 54 false alarms in 20 matches of seed 424242
 * against 43 played match by match; evicting only the previous match's frames
 * at each match start brought it back to 43, evicting only its text did not
 * (51). The window is a span the model was trained on (windows of 60-240
 * frames). With this window (cocaster eval, 20 matches, 1 vs 10 matches per
 * stream) false alarms a minute are 0.70 vs 0.65 (seed 424242), 0.53 vs 0.55
 * (100000), 0.70 vs 0.75 (271828), question accuracy 0.739 vs 0.705, 0.652 vs
 * 0.652, 0.876 vs 0.820, goal recall equal: the first minute of a match still
 * saw the previous one, which the scene cut (sceneCut.ts, dropFrames) now drops
 * (see the README's cache-policy paragraph). A cache that cannot compact starts
 * over when the budget is reached, as does one where evicting all but the sink
 * still leaves too little room. Mirrored by CachePolicy in
 * scripts/cocaster_model/live.py.
 */
export class CachePolicy {
  /** Spans in cache order: the sink, one frame each, merged consecutive text. */
  private spans: Array<{ kind: SpanKind; length: number }> = [];

  constructor(
    private readonly cache: SessionKvCache,
    readonly budget: number,
  ) {}

  /** Notes what the positions the last forward appended hold. */
  record(kind: SpanKind, length: number): void {
    if (length === 0) return;
    const last = this.spans.at(-1);
    if (kind === 'text' && last?.kind === 'text') last.length += length;
    else this.spans.push({ kind, length });
  }

  /** Tokens of each kind held. */
  tokens(kind: SpanKind): number {
    return this.spans.reduce((n, s) => n + (s.kind === kind ? s.length : 0), 0);
  }

  /** The vision window: the most frame tokens held. */
  get visionWindow(): number {
    return Math.floor(this.budget / VISION_SHARE);
  }

  /** Whether makeRoom(needed) would leave the cache as it is, once `positions` more
   * are held, `frameTokens` of them a frame's. */
  fits(needed: number, positions = 0, frameTokens = 0): boolean {
    const overflow = this.cache.length + positions + needed - this.budget;
    return overflow <= 0 && (!this.cache.canCompact || this.tokens('frame') + frameTokens <= this.visionWindow);
  }

  /** Makes room for `needed` more positions within the budget (and keeps frames within the vision window). */
  async makeRoom(needed: number): Promise<RoomOutcome> {
    if (this.fits(needed)) return { kind: 'fits' };
    const length = this.cache.length;
    const overflow = length + needed - this.budget;
    const plan = this.cache.canCompact ? this.plan(Math.max(0, overflow)) : undefined;
    if (!plan) {
      this.cache.reset();
      this.spans = [];
      return { kind: 'reset', droppedTokens: length };
    }
    await this.cache.compact(plan);
    return { kind: 'compacted', plan, keptTokens: plan.keep.length };
  }

  /** Evicts every frame (a new scene: src/engine/sceneCut.ts); undefined when there is none or the cache cannot compact. */
  async dropFrames(): Promise<Compaction | undefined> {
    if (!this.cache.canCompact || this.tokens('frame') === 0) return undefined;
    const plan = this.evict(this.spans.map((s) => s.kind === 'frame'));
    await this.cache.compact(plan);
    return plan;
  }

  /** Which spans go; undefined when evicting all but the sink still leaves no room. */
  private plan(overflow: number): Compaction | undefined {
    const half = Math.floor(this.visionWindow / 2);
    const frameTarget = this.tokens('frame') - half;
    const target = overflow > 0 ? Math.max(overflow, half) : 0;
    const texts = this.spans.flatMap((s, i) => (s.kind === 'text' ? [i] : []));
    const recent = new Set(texts.slice(Math.max(0, texts.length - RECENT_TURNS)));
    const gone = this.spans.map(() => false);
    const evicted = { frame: 0, text: 0, sink: 0 };
    const done = () => evicted.frame >= frameTarget && evicted.frame + evicted.text >= target;
    // Oldest first, frames and the text between them; then the recent turns' text, oldest first.
    for (const last of [false, true]) {
      this.spans.forEach((s, i) => {
        if (done() || gone[i] || s.kind === 'sink' || (!last && recent.has(i))) return;
        gone[i] = true;
        evicted[s.kind] += s.length;
      });
    }
    if (evicted.frame + evicted.text < overflow) return undefined;
    return this.evict(gone);
  }

  /** The compaction that drops the spans marked gone. */
  private evict(gone: boolean[]): Compaction {
    const evicted = { frame: 0, text: 0, sink: 0 };
    this.spans.forEach((s, i) => gone[i] && (evicted[s.kind] += s.length));
    const keep: number[] = [];
    const delta: number[] = [];
    let at = 0;
    let shift = 0;
    this.spans.forEach((s, i) => {
      if (gone[i]) shift += s.length;
      else for (let p = at; p < at + s.length; p++) keep.push(p), delta.push(shift);
      at += s.length;
    });
    this.spans = this.spans.filter((_, i) => !gone[i]);
    return { keep, delta, evictedFrameTokens: evicted.frame, evictedTextTokens: evicted.text };
  }
}
