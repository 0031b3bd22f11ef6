import { availableParallelism, cpus } from 'node:os';
import { LiveModel, LiveSession, type ExecutionProviderChoice } from '../engine/index.js';
import { syntheticFrame } from '../engine/syntheticFrame.js';
import type { Logger } from '../util/log.js';

export interface BenchOptions {
  modelDir: string;
  frames: number;
  ep: ExecutionProviderChoice;
  logger: Logger;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
const round = (x: number) => Math.round(x * 1000) / 1000;

/** A fixed stream (the golden test's synthetic frames, no questions) through the real
 * engine; reports where the time goes. */
export async function bench(opts: BenchOptions): Promise<Record<string, unknown>> {
  const model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger: opts.logger });
  const { width, height, fps } = model.manifest.vision;
  const frames = Array.from({ length: opts.frames }, (_, k) => syntheticFrame(k, width, height));
  let visionMs = 0;
  let frameDecoderMs = 0;
  const tokenMs: number[] = [];
  const tokensPerFrame = model.manifest.vision.tokensPerFrame;
  model.onTiming = (part, ms, positions) => {
    if (part === 'vision') visionMs += ms;
    else if (part === 'decoder' && positions >= tokensPerFrame) frameDecoderMs += ms;
    else if (part === 'decoder' && positions === 1) tokenMs.push(ms);
  };
  let resets = 0;
  let compactions = 0;
  let spoken = 0;
  const session = new LiveSession(model, (e) => {
    if (e.type === 'contextReset') resets++;
    if (e.type === 'compaction') compactions++;
    if (e.type === 'say') spoken++;
  });
  const perFrame: number[] = [];
  const start = performance.now();
  for (let k = 0; k < frames.length; k++) {
    const t0 = performance.now();
    await session.pushFrame({ t: k / fps, rgb: frames[k]! });
    perFrame.push(performance.now() - t0);
  }
  const totalMs = performance.now() - start;
  await model.release();
  perFrame.sort((a, b) => a - b);
  const sortedTokens = [...tokenMs].sort((a, b) => a - b);
  return {
    model: model.manifest.id,
    executionProvider: model.provider,
    frames: frames.length,
    fps: { vision: round((frames.length / visionMs) * 1000), decoder: round((frames.length / frameDecoderMs) * 1000), total: round((frames.length / totalMs) * 1000) },
    msPerFrame: { p50: round(percentile(perFrame, 0.5)), p95: round(percentile(perFrame, 0.95)) },
    msPerToken: { mean: round(tokenMs.reduce((a, b) => a + b, 0) / Math.max(1, tokenMs.length)), p50: round(percentile(sortedTokens, 0.5)) },
    generatedTokens: tokenMs.length,
    linesSpoken: spoken,
    contextResets: resets,
    compactions,
    finalContext: session.contextLength,
    machine: { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version },
  };
}
