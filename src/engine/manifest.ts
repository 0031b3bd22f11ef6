import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { errorMessage, UserError } from '../util/errors.js';

/** 2 added the decoder's "append" cache I/O (decoder.io) and kv_append.onnx; 3 the
 * decoder's logits_index input (logits of the positions it names: several frames
 * decided from one run). */
export const MODEL_FORMAT_VERSIONS = [1, 2, 3] as const;

const fileEntry = z.object({
  path: z.string().regex(/^[\w.-]+$/, 'must be a plain file name inside the package'),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
});

const manifestSchema = z.object({
  format: z.literal('cocaster-model'),
  formatVersion: z.union([z.literal(MODEL_FORMAT_VERSIONS[0]), z.literal(MODEL_FORMAT_VERSIONS[1]), z.literal(MODEL_FORMAT_VERSIONS[2])]),
  id: z.string().min(1),
  name: z.string().min(1),
  description: z.string().default(''),
  files: z.object({
    visionEncoder: fileEntry,
    embedTokens: fileEntry,
    decoder: fileEntry,
    /** kv_shift.onnx (cache compaction); packages without it start over when full. */
    kvShift: fileEntry.optional(),
    /** kv_append.onnx (past + new positions -> next past, every layer in one run):
     * how an "append" decoder's cache grows where it lives on a GPU. */
    kvAppend: fileEntry.optional(),
    tokenizer: fileEntry,
    tokenizerConfig: fileEntry.optional(),
    /** reference.json: outputs of an independent reference implementation that
     * `cocaster models verify` replays (golden.json's schema). */
    reference: fileEntry.optional(),
  }),
  vision: z.object({
    fps: z.number().positive().max(60),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    padToSquare: z.boolean(),
    rescale: z.number().positive(),
    mean: z.tuple([z.number(), z.number(), z.number()]),
    std: z.tuple([z.number().positive(), z.number().positive(), z.number().positive()]),
    tokensPerFrame: z.number().int().positive(),
    /** Frame tokens that identify the scene (src/engine/sceneCut.ts): a frame whose
     * tokens' cosine to the previous frame's is below minCosine starts a new one, and
     * the frames before it leave the cache. */
    sceneCut: z.object({
      tokens: z.array(z.number().int().nonnegative()).min(1),
      minCosine: z.number().min(-1).max(1),
    }).optional(),
  }).refine((v) => !v.sceneCut || v.sceneCut.tokens.every((t) => t < v.tokensPerFrame), { message: 'sceneCut.tokens must be below tokensPerFrame', path: ['sceneCut', 'tokens'] }),
  decoder: z.object({
    hiddenSize: z.number().int().positive(),
    numLayers: z.number().int().positive(),
    numKeyValueHeads: z.number().int().positive(),
    headDim: z.number().int().positive(),
    vocabSize: z.number().int().positive(),
    maxContext: z.number().int().positive(),
    /** The decoder's cache I/O. "concat" (Optimum's): past [B,Hkv,P,Dh] is the
     * cache, present = past + new positions, logits for every position. "append":
     * past is a buffer whose slots attention_mask 0 marks unused, present = the new
     * positions only, logits for the last position only (no O(cache) copy a step). */
    io: z.enum(['concat', 'append']).default('concat'),
  }),
  tokens: z.object({
    framePlaceholder: z.string().min(1),
    interval: z.string().min(1),
    eos: z.string().min(1),
    bos: z.string().min(1).nullable().optional(),
  }),
  layout: z.object({
    system: z.string(),
    start: z.string().includes('{system}'),
    query: z.string().refine((s) => s.split('{question}').length === 2, 'must contain {question} once'),
    selfSpeak: z.string().min(1),
    afterEos: z.string(),
  }),
  generation: z.object({
    threshold: z.number().min(0).max(1),
    maxNewTokens: z.number().int().positive().max(4096),
  }),
  demo: fileEntry.optional(),
  /** Weights stored beside the graphs (ONNX external data, `*.onnx.data`). */
  externalData: z.array(fileEntry).default([]),
  /** How the exporter stored the weights (fp32, fp16, int4); informational. */
  precision: z.string().optional(),
});

export type ModelManifest = z.infer<typeof manifestSchema>;
export type ModelFileKey = keyof ModelManifest['files'];

export interface ModelPackage {
  dir: string;
  manifest: ModelManifest;
  file(key: ModelFileKey): string;
}

/** Reads and validates models/<id>/model.json. Every failure is one UserError line
 * naming the package and the problem. */
export function readManifest(dir: string): ModelPackage {
  const abs = resolve(dir);
  const path = join(abs, 'model.json');
  if (!existsSync(path)) throw new UserError(`model package ${dir}: no model.json found`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`model package ${dir}: model.json is not valid JSON (${errorMessage(err)})`);
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new UserError(`model package ${dir}: model.json field '${issue.path.join('.') || '(root)'}' ${issue.message}`);
  }
  const manifest = parsed.data;
  return {
    dir: abs,
    manifest,
    file: (key) => {
      const entry = manifest.files[key];
      if (!entry) throw new UserError(`model package ${dir}: model.json lists no '${key}' file`);
      return join(abs, entry.path);
    },
  };
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks that every listed file exists and matches its sha256. */
export async function verifyFiles(pkg: ModelPackage): Promise<void> {
  const data = pkg.manifest.externalData.map((e, i) => [`externalData.${i}`, e] as const);
  const entries = [...Object.entries(pkg.manifest.files), ...data].filter(([, e]) => e !== undefined);
  for (const [key, entry] of entries) {
    const path = join(pkg.dir, entry!.path);
    if (!existsSync(path)) throw new UserError(`model package ${pkg.manifest.id}: ${entry!.path} (${key}) is missing`);
    const actual = await sha256Of(path);
    if (actual !== entry!.sha256) {
      throw new UserError(
        `model package ${pkg.manifest.id}: checksum mismatch for ${entry!.path} (expected ${entry!.sha256.slice(0, 12)}…, found ${actual.slice(0, 12)}…)`,
      );
    }
  }
}
