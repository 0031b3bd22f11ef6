import { spawnSync } from 'node:child_process';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FramePipeline, LiveModel, LiveSession, type ExecutionProviderChoice } from '../engine/index.js';
import { syntheticFrame } from '../engine/syntheticFrame.js';
import type { TimingPart } from '../engine/timing.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface BenchOptions {
  modelDir: string;
  frames: number;
  ep: ExecutionProviderChoice;
  logger: Logger;
  /** Where each frame's time goes (ms per frame by part). */
  profile?: boolean;
  /** Also run the PyTorch reference loop on the same weights and frames. */
  compareTorch?: boolean;
  /** Intra-op threads of each session (default: 1 below hidden size 1024, else onnxruntime's choice). */
  threads?: number;
}

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Cached tokens at which fpsAtContext measures. */
const CONTEXT_POINTS = [500, 1500, 3000];
/** Frames timed at each context point, in each of CONTEXT_ROUNDS rounds, on the CPU. */
const CONTEXT_FRAMES = 120;
const CONTEXT_ROUNDS = 5;
/** On a GPU provider, where the cache grows while timed and the figure that
 * matters is the bytes per frame (lavapipe in CI is ~35x slower than the CPU):
 * one round of 40 frames. */
const DEVICE_CONTEXT = { frames: 40, rounds: 1 };

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const round = (x: number) => Math.round(x * 1000) / 1000;

/** A fixed stream (the golden test's synthetic frames, no questions) through the real
 * engine, one step in flight (encoding overlaps decoding, as in eval and soak);
 * reports frames/s, where the time goes, fps at fixed cache sizes and, with
 * compareTorch, the PyTorch reference loop's frames/s on the same frames. */
export async function bench(opts: BenchOptions): Promise<Record<string, unknown>> {
  const model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger: opts.logger, threads: opts.threads });
  const { width, height, fps, tokensPerFrame } = model.manifest.vision;
  const frames = Array.from({ length: opts.frames }, (_, k) => syntheticFrame(k, width, height));
  const parts = new Map<TimingPart, number>();
  const tokenMs: number[] = [];
  model.onTiming = (part, ms, positions) => {
    parts.set(part, (parts.get(part) ?? 0) + ms);
    if (part === 'decoder' && positions === 1) tokenMs.push(ms);
  };
  const counts = { resets: 0, compactions: 0, spoken: 0 };
  const session = new LiveSession(model, (e) => {
    if (e.type === 'contextReset') counts.resets++;
    if (e.type === 'compaction') counts.compactions++;
    if (e.type === 'say') counts.spoken++;
  });
  const perFrame: number[] = [];
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const step = model.framesPerStep;
  const pipeline = new FramePipeline(session, step);
  let last = start;
  // ms between steps done (push() returns when the step before is), shared by the step's frames.
  const done = (n: number) => {
    const ms = -last + (last = performance.now());
    for (let i = 0; i < n; i++) perFrame.push(ms / n);
  };
  for (let k = 0; k < frames.length; k++) {
    await pipeline.push({ t: k / fps, rgb: frames[k]! });
    if (k >= step && (k + 1) % step === 0) done(step);
  }
  await pipeline.drain();
  done(frames.length - perFrame.length);
  const totalMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const profile = Object.fromEntries([...parts].map(([part, ms]) => [part, round(ms / frames.length)]));
  model.onTiming = undefined;
  const fpsAtContext = await contextPoints(model, frames);
  await model.release();
  perFrame.sort((a, b) => a - b);
  const sortedTokens = [...tokenMs].sort((a, b) => a - b);
  const total = round((frames.length / totalMs) * 1000);
  const result: Record<string, unknown> = {
    model: model.manifest.id,
    executionProvider: model.provider,
    decoderIo: model.manifest.decoder.io,
    frames: frames.length,
    fps: {
      vision: round((frames.length / (parts.get('vision') ?? 0)) * 1000),
      decoder: round((frames.length / ((parts.get('decoder') ?? 0) - sumOf(tokenMs))) * 1000),
      total,
    },
    // Both cores' time: with encoding beside decoding, wall time is less than this.
    cpuMsPerFrame: round((cpu.user + cpu.system) / 1000 / frames.length),
    msPerFrame: { p50: round(percentile(perFrame, 0.5)), p95: round(percentile(perFrame, 0.95)) },
    msPerToken: { mean: round(sumOf(tokenMs) / Math.max(1, tokenMs.length)), p50: round(percentile(sortedTokens, 0.5)) },
    generatedTokens: tokenMs.length,
    linesSpoken: counts.spoken,
    contextResets: counts.resets,
    compactions: counts.compactions,
    finalContext: session.contextLength,
    kvCacheLocation: session.kvCacheLocation,
    tokensPerFrame,
    fpsAtContext: Object.fromEntries(fpsAtContext.map((p) => [String(p.tokens), p.fps])),
    ...(model.provider === 'cpu' ? {} : { transfersPerFrame: Object.fromEntries(fpsAtContext.map((p) => [String(p.tokens), p.transfers])) }),
    ...(opts.profile ? { profileMsPerFrame: profile } : {}),
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version },
  };
  if (opts.compareTorch) {
    const torch = torchBench(opts.modelDir, frames.length);
    result.compareTorch = { torchFps: torch.torchFps, ratio: round(total / torch.torchFps), torchThreads: torch.threads, torchLinesSpoken: torch.linesSpoken, torchFinalContext: torch.finalContext };
  }
  return result;
}

const sumOf = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

interface ContextPoint {
  tokens: number;
  fps: number;
  /** Bytes per frame between host and device (GPU providers). */
  transfers: { hostToDevice: number; deviceToHost: number };
}

/** Frames/s with the cache holding ~N tokens: one cache is filled with frames to
 * each N in turn and CONTEXT_FRAMES more are timed there (no decisions: encode,
 * embed the interval token, decode), model.framesPerStep frames a step and one
 * step in flight as in the stream; each timed step is taken back where the cache
 * allows (the host cache), else the cache grows by the frames timed. Each
 * point is the median of CONTEXT_ROUNDS fills (on the CPU), so that a slow second on a shared
 * machine moves one round of a point, not the ratio between points. */
async function contextPoints(model: LiveModel, frames: Uint8Array[]): Promise<ContextPoint[]> {
  const rounds = Array.from({ length: model.provider === 'cpu' ? CONTEXT_ROUNDS : DEVICE_CONTEXT.rounds }, () => [] as ContextPoint[]);
  for (const round of rounds) round.push(...(await contextRound(model, frames)));
  return CONTEXT_POINTS.map((tokens, i) => {
    const fps = rounds.map((r) => r[i]!.fps).sort((a, b) => a - b);
    return { tokens, fps: fps[fps.length >> 1]!, transfers: rounds.at(-1)![i]!.transfers };
  });
}

async function contextRound(model: LiveModel, frames: Uint8Array[]): Promise<ContextPoint[]> {
  const tokensPerFrame = model.manifest.vision.tokensPerFrame + 1;
  const perStep = model.framesPerStep;
  const cache = model.newKvCache();
  const interval = await model.embed(model.codec.encode(model.manifest.tokens.interval));
  // A step as the stream's: each frame after the interval token, the logits after each frame.
  // Where the cache can drop positions (model.framesPerStep > 1: the host cache),
  // each timed step is taken back, so every one runs at the point's context.
  let held: number | undefined;
  const step = async (encoding: Promise<Float32Array[]>) => {
    const encoded = await encoding;
    const embeds = new Float32Array(encoded.reduce((n, f) => n + interval.length + f.length, 0));
    let at = 0;
    for (const frame of encoded) {
      embeds.set(interval, at);
      embeds.set(frame, at + interval.length);
      at += interval.length + frame.length;
    }
    await model.forward(cache, embeds, encoded.map((_, j) => (j + 1) * tokensPerFrame - 1));
    if (held !== undefined) cache.truncate(held);
  };
  const framesAt = (k: number) => Array.from({ length: perStep }, (_, j) => frames[(k * perStep + j) % frames.length]!);
  const steps = Math.ceil((model.provider === 'cpu' ? CONTEXT_FRAMES : DEVICE_CONTEXT.frames) / perStep);
  const points: ContextPoint[] = [];
  for (const tokens of CONTEXT_POINTS) {
    held = undefined;
    for (let k = 0; cache.length + perStep * tokensPerFrame <= tokens; k++) await step(model.encodeFrames(framesAt(k)));
    if (perStep > 1) held = cache.length;
    const before = { ...model.transfers };
    const start = performance.now();
    let pending = step(model.encodeFrames(framesAt(0)));
    for (let k = 1; k < steps; k++) {
      const encoding = model.encodeFrames(framesAt(k));
      await pending;
      pending = step(encoding);
    }
    await pending;
    const ms = performance.now() - start;
    const timed = steps * perStep;
    points.push({
      tokens,
      fps: round((timed / ms) * 1000),
      transfers: {
        hostToDevice: Math.round((model.transfers.hostToDevice - before.hostToDevice) / timed),
        deviceToHost: Math.round((model.transfers.deviceToHost - before.deviceToHost) / timed),
      },
    });
  }
  cache.reset();
  return points;
}

/** scripts/bench_torch.py: the PyTorch reference loop (Debian's python3-torch) on
 * the package's weights and the same frames. */
function torchBench(modelDir: string, frames: number): { torchFps: number; threads: number; linesSpoken: number; finalContext: number } {
  const python = process.env.COCASTER_PYTHON ?? '/usr/bin/python3';
  const run = spawnSync(python, [join(ROOT, 'scripts/bench_torch.py'), '--model', modelDir, '--frames', String(frames)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (run.error || run.status !== 0) {
    const why = run.error?.message ?? run.stderr.trim().split('\n').at(-1) ?? `exit ${run.status}`;
    throw new UserError(`--compare-torch: the PyTorch reference failed (${python}): ${why}`);
  }
  const out = JSON.parse(run.stdout.trim().split('\n').at(-1) ?? '{}') as { torchFps?: number; threads?: number; linesSpoken?: number; finalContext?: number };
  if (typeof out.torchFps !== 'number') throw new UserError('--compare-torch: the PyTorch reference printed no torchFps');
  return { torchFps: out.torchFps, threads: out.threads ?? 0, linesSpoken: out.linesSpoken ?? 0, finalContext: out.finalContext ?? 0 };
}
