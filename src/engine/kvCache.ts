import * as ort from 'onnxruntime-node';

/** What a LiveSession itself needs of a KV cache; only the model reads and
 * writes its contents (a test's fake model brings its own). */
export interface SessionKvCache {
  /** Number of positions held. */
  readonly length: number;
  /** Where the cache lives, e.g. 'cpu' or 'gpu-buffer'. */
  readonly location: string;
  /** Empties the cache (the stream starts over). */
  reset(): void;
}

/**
 * The decoder's past keys and values: the only long-lived state of a stream.
 * Tensors may live on the GPU (WebGPU); replaced tensors are disposed at once so
 * device memory does not grow. Compaction for multi-hour streams hooks in here.
 */
export class KvCache implements SessionKvCache {
  private tensors: Map<string, ort.Tensor>;
  /** Number of positions held. */
  length = 0;

  constructor(
    private readonly numLayers: number,
    private readonly numKvHeads: number,
    private readonly headDim: number,
  ) {
    this.tensors = this.empty();
  }

  private empty(): Map<string, ort.Tensor> {
    const zero = () => new ort.Tensor('float32', new Float32Array(0), [1, this.numKvHeads, 0, this.headDim]);
    const m = new Map<string, ort.Tensor>();
    for (let i = 0; i < this.numLayers; i++) {
      m.set(`past_key_values.${i}.key`, zero());
      m.set(`past_key_values.${i}.value`, zero());
    }
    return m;
  }

  /** Decoder feeds for the past. */
  feeds(): Record<string, ort.Tensor> {
    return Object.fromEntries(this.tensors);
  }

  /** Takes the decoder's present.* outputs as the new past. */
  update(outputs: ort.InferenceSession.ReturnType, added: number): void {
    const next = new Map<string, ort.Tensor>();
    for (let i = 0; i < this.numLayers; i++) {
      for (const kv of ['key', 'value']) next.set(`past_key_values.${i}.${kv}`, outputs[`present.${i}.${kv}`]!);
    }
    this.disposeAll();
    this.tensors = next;
    this.length += added;
  }

  /** Where the cache lives: 'gpu-buffer' on WebGPU once filled, else 'cpu'. */
  get location(): string {
    return this.tensors.values().next().value?.location ?? 'cpu';
  }

  reset(): void {
    this.disposeAll();
    this.tensors = this.empty();
    this.length = 0;
  }

  private disposeAll(): void {
    for (const t of this.tensors.values()) if (t.location === 'gpu-buffer') t.dispose();
  }
}
