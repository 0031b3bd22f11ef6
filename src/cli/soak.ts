import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSource } from '../capture/index.js';
import { FramePipeline, LiveModel, LiveSession, readManifest, type ExecutionProviderChoice } from '../engine/index.js';
import type { Logger } from '../util/log.js';

export interface SoakOptions {
  modelDir: string;
  /** file:PATH or demo (the package's demo video), looped and decoded as fast as possible. */
  source: string;
  hours: number;
  ep: ExecutionProviderChoice;
  /** The KV cache's token budget; default: the model's maxContext. */
  context?: number;
  logger: Logger;
}

/** One per 10 minutes of video: is the engine as fast and as small as it was? */
export interface SoakBlock {
  videoMinutes: number;
  fps: number;
  /** Frames per second of this process's own CPU time (user + system): the engine's
   * speed even where other processes share the cores. */
  cpuFps: number;
  rssMb: number;
  heapMb: number;
  cacheTokens: number;
}

const BLOCK_S = 600;
/** A viewer's question every 5 minutes of video, so turns of text live in the cache too. */
const QUESTION_EVERY_S = 300;
const QUESTIONS = ["What's the score?", 'Who has the ball?', 'How long is left?'];
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;
const mb = (bytes: number) => round(bytes / 2 ** 20);

/** `cocaster soak`: hours of video (a file looped, --fast) through the real engine;
 * counts resets and compactions and samples speed and memory every 10 minutes. */
export async function soak(opts: SoakOptions): Promise<Record<string, unknown>> {
  const { manifest, dir } = readManifest(opts.modelDir);
  const demo = manifest.demo ? join(dir, manifest.demo.path) : undefined;
  const source = openSource(opts.source, manifest.vision, { fast: true, loop: true, logger: opts.logger, demoVideo: demo && existsSync(demo) ? demo : undefined });
  const model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger: opts.logger });
  const counts = { contextResets: 0, compactions: 0, linesSpoken: 0, questions: 0 };
  const session = new LiveSession(
    model,
    (e) => {
      if (e.type === 'contextReset') counts.contextResets++;
      else if (e.type === 'compaction') counts.compactions++;
      else if (e.type === 'say') counts.linesSpoken++;
      else if (e.type === 'question') counts.questions++;
    },
    { context: opts.context },
  );
  const { fps } = manifest.vision;
  const total = Math.round(opts.hours * 3600 * fps);
  const blockFrames = BLOCK_S * fps;
  const blocks: SoakBlock[] = [];
  let k = 0;
  let blockStart = performance.now();
  let blockCpu = process.cpuUsage();
  const start = blockStart;
  const pipeline = new FramePipeline(session, model.framesPerStep);
  try {
    for await (const frame of source.frames()) {
      const t = k / fps; // video time across loops of the file
      if (k > 0 && k % (QUESTION_EVERY_S * fps) === 0) session.ask(t, QUESTIONS[(k / (QUESTION_EVERY_S * fps)) % QUESTIONS.length]!);
      await pipeline.push({ t, rgb: frame.rgb });
      k++;
      if (k % blockFrames === 0) {
        const now = performance.now();
        const cpu = process.cpuUsage(blockCpu);
        const mem = process.memoryUsage();
        blocks.push({
          videoMinutes: round(k / fps / 60),
          fps: round((blockFrames / (now - blockStart)) * 1000),
          cpuFps: round((blockFrames / (cpu.user + cpu.system)) * 1e6),
          rssMb: mb(mem.rss),
          heapMb: mb(mem.heapUsed),
          cacheTokens: session.contextLength,
        });
        opts.logger.info(`soak: ${round(k / fps / 60)} min of video, ${blocks.at(-1)!.fps} fps, rss ${blocks.at(-1)!.rssMb} MB, ${counts.compactions} compactions`);
        blockStart = now;
        blockCpu = process.cpuUsage();
      }
      if (k >= total) break;
    }
    await pipeline.drain();
  } finally {
    await source.close();
    await model.release();
  }
  return {
    model: manifest.id,
    executionProvider: model.provider,
    source: source.description,
    videoHours: round(k / fps / 3600, 3),
    wallMinutes: round((performance.now() - start) / 60000),
    contextBudget: session.contextBudget,
    ...counts,
    blocks,
  };
}
