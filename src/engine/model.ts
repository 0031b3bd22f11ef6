import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { HostKvCache, TensorKvCache, type DecoderCache } from './decoderCache.js';
import { readManifest, verifyFiles, type ModelManifest, type ModelPackage } from './manifest.js';
import { checkSignature, createSessions, type ExecutionProvider, type ExecutionProviderChoice } from './runtime.js';
import type { TimingListener } from './timing.js';
import { TextCodec } from './tokenizer.js';
import { InlineVision, WorkerVision, type VisionEncoder } from './vision.js';

export type { TimingListener } from './timing.js';

/** Largest embedding table (floats) read once into memory at load; larger ones
 * (an 8B model's is 0.5 G floats) stay in embed_tokens.onnx. */
const EMBED_TABLE_MAX = 1 << 22;

/** Frames a CPU "append" decoder with logits_index (format 3) may take in one run
 * when they wait (run --fast, eval, soak, bench): each run reads the weights and
 * the whole cache once, and onnxruntime's MatMul re-packs the cached keys and
 * values on every call, so at a long context fewer, larger runs cost less a frame
 * (cocaster-tiny, 2-core bench, 3 runs each side by side: fps at 3,000 cached
 * tokens 237-258 with 4 frames a run, 297-312 with 8; see the README's Speed section). */
const FRAMES_PER_STEP = 8;

/** Whether the decoder takes logits_index (package format 3). */
const namesLogitRows = (manifest: ModelManifest): boolean => manifest.formatVersion >= 3;

/** Bytes between host and device (a GPU provider), counted by the benchmark. */
export interface Transfers {
  hostToDevice: number;
  deviceToHost: number;
}

export interface LoadOptions {
  ep?: ExecutionProviderChoice;
  threads?: number;
  logger: Logger;
}

interface Sessions {
  vision: VisionEncoder;
  embedTokens: ort.InferenceSession;
  /** Every token's embedding [V*D], when small enough to hold (EMBED_TABLE_MAX). */
  embedTable: Float32Array | undefined;
  decoder: ort.InferenceSession;
  /** kv_shift.onnx: compacts the KV cache on the same provider (absent in older packages). */
  kvShift: ort.InferenceSession | undefined;
  /** kv_append.onnx: grows an "append" decoder's cache where it lives on a GPU. */
  kvAppend: ort.InferenceSession | undefined;
}

/** The ONNX parts of a model package plus its tokenizer. Stateless: the KV cache
 * is passed in, so one LiveSession owns all stream state. */
export class LiveModel {
  private constructor(
    readonly pkg: ModelPackage,
    readonly codec: TextCodec,
    readonly provider: ExecutionProvider,
    private readonly parts: Sessions,
  ) {}

  onTiming: TimingListener | undefined;
  readonly transfers: Transfers = { hostToDevice: 0, deviceToHost: 0 };

  /** Frames one decoder run may take: several where the decoder names the positions
   * whose logits it returns and the cache can drop positions (the host cache). */
  get framesPerStep(): number {
    return namesLogitRows(this.manifest) && this.hostCache ? FRAMES_PER_STEP : 1;
  }

  /** Whether the cache is the host's own buffers (HostKvCache): an "append" decoder on the CPU. */
  private get hostCache(): boolean {
    return this.manifest.decoder.io === 'append' && this.provider === 'cpu';
  }

  get manifest(): ModelManifest {
    return this.pkg.manifest;
  }

  static async load(dir: string, options: LoadOptions): Promise<LiveModel> {
    const pkg = readManifest(dir);
    await verifyFiles(pkg);
    const codec = TextCodec.load(pkg);
    const { numLayers } = pkg.manifest.decoder;
    const presents: string[] = [];
    const pasts: string[] = [];
    for (let i = 0; i < numLayers; i++) {
      for (const kv of ['key', 'value']) {
        presents.push(`present.${i}.${kv}`);
        pasts.push(`past_key_values.${i}.${kv}`);
      }
    }
    const small = pkg.manifest.decoder.hiddenSize < 1024;
    const threads = options.threads ?? (small ? 1 : undefined);
    // On the CPU the vision worker holds a core of its own while the decoder runs
    // (the next step's frames): a small decoder gets up to two of the others. A
    // second thread on the vision worker's core stalls each parallel product on
    // the slower half (2-core bench, 4 frames a run, 7 runs each side by side:
    // fps total 319-397 on one thread vs 226-301 on two, at 3,000 cached tokens
    // 248-322 vs 170-240).
    const decoderThreads = options.threads ?? (small ? Math.max(1, Math.min(2, availableParallelism() - 1)) : undefined);
    const append = pkg.manifest.decoder.io === 'append';
    const f = pkg.manifest.files;
    const nexts = presents.map((n) => n.replace(/^present/, 'next'));
    const { provider, sessions } = await createSessions(
      [
        { path: pkg.file('visionEncoder') },
        { path: pkg.file('embedTokens') },
        { path: pkg.file('decoder'), deviceOutputs: presents, threads: decoderThreads },
        ...(f.kvShift ? [{ path: pkg.file('kvShift'), deviceOutputs: ['key_out', 'value_out'] }] : []),
        ...(append && f.kvAppend ? [{ path: pkg.file('kvAppend'), deviceOutputs: nexts }] : []),
      ],
      { ep: options.ep ?? 'auto', threads, logger: options.logger },
    );
    const [vision, embed, decoder, ...rest] = sessions as [ort.InferenceSession, ort.InferenceSession, ort.InferenceSession, ...ort.InferenceSession[]];
    const kvShift = f.kvShift ? rest.shift() : undefined;
    const kvAppend = append && f.kvAppend ? rest.shift() : undefined;
    checkSignature(vision, f.visionEncoder.path, [{ name: 'pixel_values', rank: 4, type: 'float32' }], [{ name: vision.outputNames[0] ?? '', rank: 3, type: 'float32' }]);
    checkSignature(embed, f.embedTokens.path, [{ name: 'input_ids', rank: 2, type: 'int64' }], [{ name: 'inputs_embeds', rank: 3, type: 'float32' }]);
    checkSignature(
      decoder,
      f.decoder.path,
      [
        { name: 'inputs_embeds', rank: 3, type: 'float32' },
        { name: 'attention_mask', rank: 2, type: 'int64' },
        { name: 'position_ids', rank: 2, type: 'int64' },
        ...(namesLogitRows(pkg.manifest) ? [{ name: 'logits_index', rank: 1, type: 'int64' as const }] : []),
        ...pasts.map((name) => ({ name, rank: 4, type: 'float32' as const })),
      ],
      [{ name: 'logits', rank: 3, type: 'float32' }, ...presents.map((name) => ({ name, rank: 4, type: 'float32' as const }))],
    );
    if (kvAppend) {
      const tensors = (list: string[]) => list.map((name) => ({ name, rank: 4, type: 'float32' as const }));
      checkSignature(kvAppend, f.kvAppend!.path, tensors([...pasts, ...presents]), tensors(nexts));
    } else if (append && provider !== 'cpu') {
      throw new UserError(`model package ${pkg.manifest.id}: an "append" decoder on ${provider} needs kv_append.onnx, which model.json does not list`);
    }
    if (kvShift) {
      const kv = [{ name: 'key', rank: 4, type: 'float32' as const }, { name: 'value', rank: 4, type: 'float32' as const }];
      const idx = [{ name: 'keep', rank: 1, type: 'int64' as const }, { name: 'delta', rank: 1, type: 'int64' as const }];
      checkSignature(kvShift, f.kvShift!.path, [...kv, ...idx], kv.map((t) => ({ ...t, name: `${t.name}_out` })));
    } else {
      options.logger.info(`model package ${pkg.manifest.id} has no kv_shift graph: the stream starts over from the system prompt when its context is full`);
    }
    options.logger.info(`execution provider: ${provider}`);
    const embedTable = await readEmbedTable(embed, pkg.manifest.decoder);
    // On the CPU the vision session gets a thread of its own, beside the decoder's.
    const encoder = provider === 'cpu' ? await WorkerVision.start(pkg.file('visionEncoder'), pkg.manifest.vision, threads ?? 1) : new InlineVision(vision, pkg.manifest.vision);
    if (provider === 'cpu') await vision.release();
    return new LiveModel(pkg, codec, provider, { vision: encoder, embedTokens: embed, embedTable, decoder, kvShift, kvAppend });
  }

  newKvCache(): DecoderCache {
    const d = this.manifest.decoder;
    const shape = { numLayers: d.numLayers, numKvHeads: d.numKeyValueHeads, headDim: d.headDim };
    const compacted = (ms: number, kept: number) => this.onTiming?.('compact', ms, kept);
    if (this.hostCache) return new HostKvCache(shape, this.parts.kvShift, compacted);
    return new TensorKvCache(shape, this.parts.kvShift, this.parts.kvAppend, compacted);
  }

  /** RGB frames to their tokensPerFrame embeddings each, flattened [K*D], in one
   * run. On the CPU this runs in the vision thread: call it for the next frames
   * before awaiting these frames' decoding and the two overlap. */
  async encodeFrames(rgbs: Uint8Array[]): Promise<Float32Array[]> {
    const { embeds, timing } = await this.parts.vision.encode(rgbs);
    this.onTiming?.('preprocess', timing.preprocess, rgbs.length);
    this.onTiming?.('vision', timing.vision, rgbs.length);
    if (this.provider !== 'cpu') {
      for (const rgb of rgbs) this.transfers.hostToDevice += rgb.length * 4;
      for (const e of embeds) this.transfers.deviceToHost += e.byteLength;
    }
    return embeds;
  }

  /** Token ids to embeddings, flattened [S*D]. */
  async embed(ids: readonly number[]): Promise<Float32Array> {
    if (ids.length === 0) return new Float32Array(0);
    const start = performance.now();
    const table = this.parts.embedTable;
    const d = this.manifest.decoder.hiddenSize;
    let embeds: Float32Array;
    if (table) {
      embeds = new Float32Array(ids.length * d);
      ids.forEach((id, i) => embeds.set(table.subarray(id * d, (id + 1) * d), i * d));
    } else {
      const input = new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]);
      const out = await this.parts.embedTokens.run({ input_ids: input });
      embeds = (await out.inputs_embeds!.getData()) as Float32Array;
    }
    this.onTiming?.('embed', performance.now() - start, ids.length);
    return embeds;
  }

  /** Appends embeddings [S*D] to the cache; returns the logits [rows*V] after the
   * positions in `rows` (indices into the new ones; the last by default). */
  async forward(kvCache: DecoderCache, embeds: Float32Array, rows?: readonly number[]): Promise<Float32Array> {
    const d = this.manifest.decoder.hiddenSize;
    const s = embeds.length / d;
    const t0 = performance.now();
    const positions = new BigInt64Array(s);
    for (let i = 0; i < s; i++) positions[i] = BigInt(kvCache.length + i);
    const wanted = rows ?? [s - 1];
    const named = namesLogitRows(this.manifest);
    if (!named && (wanted.length !== 1 || wanted[0] !== s - 1)) throw new Error(`model package ${this.manifest.id} (format ${this.manifest.formatVersion}) returns the last position's logits only`);
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', embeds, [1, s, d]),
      position_ids: new ort.Tensor('int64', positions, [1, s]),
      ...(named ? { logits_index: new ort.Tensor('int64', BigInt64Array.from(wanted, BigInt), [wanted.length]) } : {}),
      ...kvCache.feeds(s),
    };
    const t1 = performance.now();
    const out = await this.parts.decoder.run(feeds);
    const t2 = performance.now();
    const all = (await out.logits!.getData()) as Float32Array;
    // A graph of format 1 may return every position's logits: the last row is the one asked for.
    const vocab = out.logits!.dims[2]!;
    const logits = named ? all : all.subarray(all.length - vocab);
    const t3 = performance.now();
    await kvCache.update(out, s);
    if (this.provider !== 'cpu') {
      this.transfers.hostToDevice += embeds.byteLength + positions.byteLength + (feeds.attention_mask?.data as BigInt64Array).byteLength + 8 * (named ? wanted.length : 0);
      this.transfers.deviceToHost += all.byteLength;
    }
    this.onTiming?.('feeds', t1 - t0, s);
    this.onTiming?.('decoder', t2 - t1, s);
    this.onTiming?.('logits', t3 - t2, s);
    this.onTiming?.('cache', performance.now() - t3, s);
    return logits;
  }

  async release(): Promise<void> {
    const p = this.parts;
    await Promise.all([p.vision.release(), p.embedTokens.release(), p.decoder.release(), p.kvShift?.release(), p.kvAppend?.release()]);
  }
}

/** Every token's embedding, by one run of embed_tokens.onnx over all ids (a row
 * per token: exactly what a run over any ids returns); undefined when too large. */
async function readEmbedTable(embed: ort.InferenceSession, decoder: ModelManifest['decoder']): Promise<Float32Array | undefined> {
  if (decoder.vocabSize * decoder.hiddenSize > EMBED_TABLE_MAX) return undefined;
  const ids = new ort.Tensor('int64', BigInt64Array.from({ length: decoder.vocabSize }, (_, i) => BigInt(i)), [1, decoder.vocabSize]);
  const out = await embed.run({ input_ids: ids });
  const table = (await out.inputs_embeds!.getData()) as Float32Array;
  return table.length === decoder.vocabSize * decoder.hiddenSize ? table.slice() : undefined;
}
