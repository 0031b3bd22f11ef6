import * as ort from 'onnxruntime-node';
import type { Compaction, SessionKvCache } from './kvCache.js';

/** What LiveModel.forward needs of a cache besides the session's view of it. */
export interface DecoderCache extends SessionKvCache {
  /** The decoder's past inputs and attention_mask for `added` new positions. */
  feeds(added: number): Record<string, ort.Tensor>;
  /** Takes the decoder's present.* outputs; the cache grows by `added`. */
  update(outputs: ort.InferenceSession.ReturnType, added: number): Promise<void>;
}

export interface CacheShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
}

const names = (n: number, prefix: string) =>
  Array.from({ length: n }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();

/** Host buffers grow by this many positions: a re-layout every ~40 frames, not every step. */
const GROW_POSITIONS = 256;

/**
 * The CPU cache of an "append" decoder: per layer, keys and values in JS buffers
 * [1, Hkv, capacity, Dh] fed to the decoder as they are (no copy); the decoder
 * reads the first `length` slots (attention_mask 1), ignores the rest, and returns
 * only the new positions, which are written into their slots. A step thus copies
 * O(new positions), not O(cache); capacity grows in chunks and is fitted again
 * after a compaction, so attention reads ~length slots, not maxContext.
 */
export class HostKvCache implements DecoderCache {
  readonly location = 'cpu';
  length = 0;
  private capacity = 0;
  private buffers: Float32Array[];
  /** attention_mask for the current capacity; rebuilt when length or capacity moves. */
  private mask = { capacity: -1, length: -1, added: -1, tensor: undefined as ort.Tensor | undefined };

  constructor(
    private readonly shape: CacheShape,
    /** kv_shift.onnx, if the package has it. */
    private readonly shifter?: ort.InferenceSession,
    private readonly onCompact?: (ms: number, kept: number) => void,
  ) {
    this.buffers = this.allocate(0);
  }

  get canCompact(): boolean {
    return this.shifter !== undefined;
  }

  feeds(added: number): Record<string, ort.Tensor> {
    const { numKvHeads, headDim } = this.shape;
    const feeds: Record<string, ort.Tensor> = { attention_mask: this.attentionMask(added) };
    names(this.shape.numLayers, 'past_key_values').forEach((name, i) => {
      feeds[name] = new ort.Tensor('float32', this.buffers[i]!, [1, numKvHeads, this.capacity, headDim]);
    });
    return feeds;
  }

  async update(outputs: ort.InferenceSession.ReturnType, added: number): Promise<void> {
    if (this.length + added > this.capacity) this.relayout(roundUp(this.length + added), this.length, (i) => this.buffers[i]!, this.capacity);
    const { numKvHeads, headDim } = this.shape;
    const rows = added * headDim;
    names(this.shape.numLayers, 'present').forEach((name, i) => {
      const fresh = outputs[name]!.data as Float32Array;
      const buffer = this.buffers[i]!;
      for (let h = 0; h < numKvHeads; h++) buffer.set(fresh.subarray(h * rows, (h + 1) * rows), (h * this.capacity + this.length) * headDim);
    });
    this.length += added;
  }

  /** kv_shift over the buffers (the kept slots are all < length), then fitted again. */
  async compact(plan: Compaction): Promise<void> {
    if (!this.shifter) throw new Error('this model package has no kv_shift graph');
    const start = performance.now();
    const { numKvHeads, headDim } = this.shape;
    const dims = [1, numKvHeads, this.capacity, headDim];
    const shifted = await shiftLayers(this.shifter, plan, this.buffers.map((b) => new ort.Tensor('float32', b, dims)));
    const n = plan.keep.length;
    this.relayout(roundUp(n), n, (i) => shifted[i]!.data as Float32Array, n);
    this.length = n;
    this.onCompact?.(performance.now() - start, n);
  }

  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.length) throw new Error(`cannot keep ${length} of ${this.length} cached positions`);
    // The slots after it are masked out and written again by the next update.
    this.length = length;
  }

  reset(): void {
    this.buffers = this.allocate(0);
    this.capacity = 0;
    this.length = 0;
  }

  /** New buffers of `capacity` slots holding the first `keep` slots of each source
   * buffer (laid out with `sourceCapacity` slots per head). */
  private relayout(capacity: number, keep: number, source: (i: number) => Float32Array, sourceCapacity: number): void {
    const { numKvHeads, headDim } = this.shape;
    const next = this.allocate(capacity);
    next.forEach((buffer, i) => {
      const from = source(i);
      for (let h = 0; h < numKvHeads; h++) buffer.set(from.subarray(h * sourceCapacity * headDim, (h * sourceCapacity + keep) * headDim), h * capacity * headDim);
    });
    this.buffers = next;
    this.capacity = capacity;
  }

  private allocate(capacity: number): Float32Array[] {
    const { numLayers, numKvHeads, headDim } = this.shape;
    return Array.from({ length: 2 * numLayers }, () => new Float32Array(numKvHeads * capacity * headDim));
  }

  /** 1 for the held slots and the new positions, 0 for the unused slots between. */
  private attentionMask(added: number): ort.Tensor {
    const m = this.mask;
    if (m.tensor && m.capacity === this.capacity && m.length === this.length && m.added === added) return m.tensor;
    const mask = new BigInt64Array(this.capacity + added);
    mask.fill(1n, 0, this.length);
    mask.fill(1n, this.capacity);
    this.mask = { capacity: this.capacity, length: this.length, added, tensor: new ort.Tensor('int64', mask, [1, mask.length]) };
    return this.mask.tensor!;
  }
}

function roundUp(positions: number): number {
  return Math.ceil(positions / GROW_POSITIONS) * GROW_POSITIONS;
}

/**
 * A cache of ONNX tensors, which may live on the GPU (WebGPU: the decoder's
 * present.* stay there). A "concat" decoder returns the whole next cache; an
 * "append" one returns the new positions, joined to the past by kv_append.onnx on
 * the same provider. Replaced tensors are disposed at once so device memory does
 * not grow; compaction runs kv_shift on the same provider, so a gpu-buffer cache
 * never leaves the device.
 */
export class TensorKvCache implements DecoderCache {
  private tensors: ort.Tensor[];
  length = 0;

  constructor(
    private readonly shape: CacheShape,
    /** kv_shift.onnx, if the package has it. */
    private readonly shifter?: ort.InferenceSession,
    /** kv_append.onnx for an "append" decoder; none for a "concat" one. */
    private readonly appender?: ort.InferenceSession,
    private readonly onCompact?: (ms: number, kept: number) => void,
  ) {
    this.tensors = this.empty();
  }

  get canCompact(): boolean {
    return this.shifter !== undefined;
  }

  /** Where the cache lives: 'gpu-buffer' on WebGPU once filled, else 'cpu'. */
  get location(): string {
    return this.tensors[0]?.location ?? 'cpu';
  }

  feeds(added: number): Record<string, ort.Tensor> {
    if (this.appender && this.length === 0) return this.firstFeeds(added);
    const total = this.length + added;
    const feeds: Record<string, ort.Tensor> = { attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]) };
    names(this.shape.numLayers, 'past_key_values').forEach((name, i) => (feeds[name] = this.tensors[i]!));
    return feeds;
  }

  /** An "append" decoder's first step: WebGPU aborts on an empty past (its
   * attention over the past is a MatMul with a zero dimension), so the past is
   * one unused slot, masked out and never kept. */
  private firstFeeds(added: number): Record<string, ort.Tensor> {
    const { numKvHeads, headDim } = this.shape;
    const mask = new BigInt64Array(1 + added).fill(1n);
    mask[0] = 0n;
    const feeds: Record<string, ort.Tensor> = { attention_mask: new ort.Tensor('int64', mask, [1, mask.length]) };
    const slot = new ort.Tensor('float32', new Float32Array(numKvHeads * headDim), [1, numKvHeads, 1, headDim]);
    for (const name of names(this.shape.numLayers, 'past_key_values')) feeds[name] = slot;
    return feeds;
  }

  async update(outputs: ort.InferenceSession.ReturnType, added: number): Promise<void> {
    const present = names(this.shape.numLayers, 'present').map((name) => outputs[name]!);
    let next = present;
    if (this.appender && this.length > 0) {
      const feeds: Record<string, ort.Tensor> = {};
      names(this.shape.numLayers, 'past_key_values').forEach((name, i) => (feeds[name] = this.tensors[i]!));
      names(this.shape.numLayers, 'present').forEach((name, i) => (feeds[name] = present[i]!));
      const joined = await this.appender.run(feeds);
      next = names(this.shape.numLayers, 'next').map((name) => joined[name]!);
      dispose(present);
    }
    dispose(this.tensors);
    this.tensors = next;
    this.length += added;
  }

  /** kv_shift on the cache's own provider: a gpu-buffer cache never leaves the device. */
  async compact(plan: Compaction): Promise<void> {
    if (!this.shifter) throw new Error('this model package has no kv_shift graph');
    const start = performance.now();
    const next = await shiftLayers(this.shifter, plan, this.tensors);
    dispose(this.tensors);
    this.tensors = next;
    this.length = plan.keep.length;
    this.onCompact?.(performance.now() - start, this.length);
  }

  /** Not needed: LiveModel.framesPerStep is 1 for a tensor cache. */
  truncate(length: number): void {
    throw new Error(`this KV cache cannot drop positions (keep ${length} of ${this.length})`);
  }

  reset(): void {
    dispose(this.tensors);
    this.tensors = this.empty();
    this.length = 0;
  }

  private empty(): ort.Tensor[] {
    const { numLayers, numKvHeads, headDim } = this.shape;
    return Array.from({ length: 2 * numLayers }, () => new ort.Tensor('float32', new Float32Array(0), [1, numKvHeads, 0, headDim]));
  }
}

/** One kv_shift run per layer ([key, value] pairs in order): gathers the kept
 * positions and re-rotates their keys. */
async function shiftLayers(shifter: ort.InferenceSession, plan: Compaction, tensors: ort.Tensor[]): Promise<ort.Tensor[]> {
  const n = plan.keep.length;
  const keep = new ort.Tensor('int64', BigInt64Array.from(plan.keep, BigInt), [n]);
  const delta = new ort.Tensor('int64', BigInt64Array.from(plan.delta, BigInt), [n]);
  const out: ort.Tensor[] = [];
  for (let layer = 0; 2 * layer < tensors.length; layer++) {
    const shifted = await shifter.run({ key: tensors[2 * layer]!, value: tensors[2 * layer + 1]!, keep, delta });
    out.push(shifted.key_out!, shifted.value_out!);
  }
  return out;
}

function dispose(tensors: ort.Tensor[]): void {
  for (const t of tensors) if (t.location === 'gpu-buffer') t.dispose();
}
