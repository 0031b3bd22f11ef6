import * as ort from 'onnxruntime-node';
import type { Logger } from '../util/log.js';
import { KvCache } from './kvCache.js';
import { readManifest, verifyFiles, type ModelManifest, type ModelPackage } from './manifest.js';
import { toPixelValues } from './preprocess.js';
import { checkSignature, createSessions, type ExecutionProvider, type ExecutionProviderChoice } from './runtime.js';
import { TextCodec } from './tokenizer.js';

/** Where inference time goes; the benchmark listens. */
export type TimingListener = (part: 'vision' | 'embed' | 'decoder', ms: number, positions: number) => void;

export interface LoadOptions {
  ep?: ExecutionProviderChoice;
  threads?: number;
  logger: Logger;
}

/** The three ONNX parts of a model package plus its tokenizer. Stateless: the
 * KV cache is passed in, so one LiveSession owns all stream state. */
export class LiveModel {
  private constructor(
    readonly pkg: ModelPackage,
    readonly codec: TextCodec,
    readonly provider: ExecutionProvider,
    private readonly vision: ort.InferenceSession,
    private readonly embedTokens: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    /** kv_shift.onnx: compacts the KV cache on the same provider (absent in older packages). */
    private readonly kvShift: ort.InferenceSession | undefined,
  ) {}

  onTiming: TimingListener | undefined;

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
    const threads = options.threads ?? (pkg.manifest.decoder.hiddenSize < 1024 ? 1 : undefined);
    const shiftRequest = pkg.manifest.files.kvShift ? [{ path: pkg.file('kvShift'), deviceOutputs: ['key_out', 'value_out'] }] : [];
    const { provider, sessions } = await createSessions(
      [{ path: pkg.file('visionEncoder') }, { path: pkg.file('embedTokens') }, { path: pkg.file('decoder'), deviceOutputs: presents }, ...shiftRequest],
      { ep: options.ep ?? 'auto', threads, logger: options.logger },
    );
    const [vision, embed, decoder, kvShift] = sessions as [ort.InferenceSession, ort.InferenceSession, ort.InferenceSession, ort.InferenceSession?];
    const f = pkg.manifest.files;
    checkSignature(vision, f.visionEncoder.path, [{ name: 'pixel_values', rank: 4, type: 'float32' }], [{ name: vision.outputNames[0] ?? '', rank: 3, type: 'float32' }]);
    checkSignature(embed, f.embedTokens.path, [{ name: 'input_ids', rank: 2, type: 'int64' }], [{ name: 'inputs_embeds', rank: 3, type: 'float32' }]);
    checkSignature(
      decoder,
      f.decoder.path,
      [
        { name: 'inputs_embeds', rank: 3, type: 'float32' },
        { name: 'attention_mask', rank: 2, type: 'int64' },
        { name: 'position_ids', rank: 2, type: 'int64' },
        ...pasts.map((name) => ({ name, rank: 4, type: 'float32' as const })),
      ],
      [{ name: 'logits', rank: 3, type: 'float32' }, ...presents.map((name) => ({ name, rank: 4, type: 'float32' as const }))],
    );
    if (kvShift) {
      const kv = [{ name: 'key', rank: 4, type: 'float32' as const }, { name: 'value', rank: 4, type: 'float32' as const }];
      const idx = [{ name: 'keep', rank: 1, type: 'int64' as const }, { name: 'delta', rank: 1, type: 'int64' as const }];
      checkSignature(kvShift, f.kvShift!.path, [...kv, ...idx], kv.map((t) => ({ ...t, name: `${t.name}_out` })));
    } else {
      options.logger.info(`model package ${pkg.manifest.id} has no kv_shift graph: the stream starts over from the system prompt when its context is full`);
    }
    options.logger.info(`execution provider: ${provider}`);
    return new LiveModel(pkg, codec, provider, vision, embed, decoder, kvShift);
  }

  newKvCache(): KvCache {
    const d = this.manifest.decoder;
    return new KvCache(d.numLayers, d.numKeyValueHeads, d.headDim, this.kvShift);
  }

  /** One RGB frame to its tokensPerFrame embeddings, flattened [K*D]. */
  async encodeFrame(rgb: Uint8Array): Promise<Float32Array> {
    const { width, height } = this.manifest.vision;
    const pixels = new ort.Tensor('float32', toPixelValues(rgb, this.manifest.vision), [1, 3, height, width]);
    const start = performance.now();
    const out = await this.vision.run({ pixel_values: pixels });
    const embeds = (await out[this.vision.outputNames[0]!]!.getData()) as Float32Array;
    this.onTiming?.('vision', performance.now() - start, 1);
    return embeds;
  }

  /** Token ids to embeddings, flattened [S*D]. */
  async embed(ids: readonly number[]): Promise<Float32Array> {
    if (ids.length === 0) return new Float32Array(0);
    const input = new ort.Tensor('int64', BigInt64Array.from(ids, (i) => BigInt(i)), [1, ids.length]);
    const start = performance.now();
    const out = await this.embedTokens.run({ input_ids: input });
    const embeds = (await out.inputs_embeds!.getData()) as Float32Array;
    this.onTiming?.('embed', performance.now() - start, ids.length);
    return embeds;
  }

  /** Appends embeddings [S*D] to the cache; returns the logits after the last one. */
  async forward(kvCache: KvCache, embeds: Float32Array): Promise<Float32Array> {
    const d = this.manifest.decoder.hiddenSize;
    const s = embeds.length / d;
    const total = kvCache.length + s;
    const positions = new BigInt64Array(s);
    for (let i = 0; i < s; i++) positions[i] = BigInt(kvCache.length + i);
    const feeds = {
      inputs_embeds: new ort.Tensor('float32', embeds, [1, s, d]),
      attention_mask: new ort.Tensor('int64', new BigInt64Array(total).fill(1n), [1, total]),
      position_ids: new ort.Tensor('int64', positions, [1, s]),
      ...kvCache.feeds(),
    };
    const start = performance.now();
    const out = await this.decoder.run(feeds);
    const logits = out.logits!;
    const vocab = logits.dims[2]!;
    const all = (await logits.getData()) as Float32Array;
    kvCache.update(out, s);
    this.onTiming?.('decoder', performance.now() - start, s);
    return all.slice((s - 1) * vocab, s * vocab);
  }

  async release(): Promise<void> {
    await Promise.all([this.vision.release(), this.embedTokens.release(), this.decoder.release(), this.kvShift?.release()]);
  }
}
