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
}

/** Text may hold up to 1/TEXT_SHARE of the budget before its oldest turns go. */
export const TEXT_SHARE = 8;

/** What makeRoom did. */
export type RoomOutcome =
  | { kind: 'fits' }
  | { kind: 'compacted'; plan: Compaction; keptTokens: number }
  | { kind: 'reset'; droppedTokens: number };

/**
 * The cache policy for hours-long streams (StreamingLLM's sink + window, with
 * StreamingVLM's longer life for text): a token budget; the start prompt always
 * stays; when the next step would exceed the budget, at least a quarter of it is
 * evicted at once (amortised), whole frames first, oldest first, unless text
 * holds more than an eighth of the budget, then its oldest turns first. Text thus
 * outlives the frames around it, at about the share it has in a 3-minute match
 * the model was trained on (~400 of 2,700 tokens; with half the budget, the first
 * 10-match eval stream of seed 424242 had 31 false alarms, with an eighth 28,
 * played match by match 26). A cache that
 * cannot compact starts over instead, as does one where even that leaves too
 * little room. Mirrored by CachePolicy in scripts/cocaster_model/live.py.
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

  /** Makes room for `needed` more positions within the budget. */
  async makeRoom(needed: number): Promise<RoomOutcome> {
    const length = this.cache.length;
    if (length + needed <= this.budget) return { kind: 'fits' };
    const plan = this.cache.canCompact ? this.plan(length + needed - this.budget) : undefined;
    if (!plan) {
      this.cache.reset();
      this.spans = [];
      return { kind: 'reset', droppedTokens: length };
    }
    await this.cache.compact(plan);
    return { kind: 'compacted', plan, keptTokens: plan.keep.length };
  }

  /** Which spans go; undefined when evicting all but the sink still leaves no room. */
  private plan(overflow: number): Compaction | undefined {
    const target = Math.max(overflow, Math.floor(this.budget / 4));
    const gone = this.spans.map(() => false);
    const oldest = (kind: SpanKind) => this.spans.findIndex((s, i) => s.kind === kind && !gone[i]);
    let textLeft = this.tokens('text');
    const evicted = { frame: 0, text: 0, sink: 0 };
    while (evicted.frame + evicted.text < target) {
      let pick = textLeft > Math.floor(this.budget / TEXT_SHARE) ? oldest('text') : -1;
      if (pick < 0) pick = oldest('frame');
      if (pick < 0) pick = oldest('text');
      if (pick < 0) break;
      const span = this.spans[pick]!;
      gone[pick] = true;
      evicted[span.kind] += span.length;
      if (span.kind === 'text') textLeft -= span.length;
    }
    if (evicted.frame + evicted.text < overflow) return undefined;
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
