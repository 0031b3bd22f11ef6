import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSource, skipPausedScenes, type ObsOptions } from '../capture/index.js';
import { LiveModel, LiveSession, readManifest, type EngineEvent, type ExecutionProviderChoice } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { consoleLine, JsonlWriter } from './output.js';

export interface RunOptions {
  source: string;
  modelDir: string;
  asks: Array<{ t: number; text: string }>;
  threshold?: number;
  ep: ExecutionProviderChoice;
  fast: boolean;
  loop: boolean;
  jsonl?: string;
  obs?: ObsOptions;
  /** Program scenes during which commentary pauses (OBS sources). */
  pauseScenes?: string[];
  logger: Logger;
}

/** Parses `--ask SECONDS:TEXT`. */
export function parseAsk(value: string): { t: number; text: string } {
  const m = /^(\d+(?:\.\d+)?):(.+)$/s.exec(value);
  if (!m) throw new UserError(`--ask expects SECONDS:TEXT, got '${value}'`);
  return { t: Number(m[1]), text: m[2]! };
}

/** source → engine → console / JSONL, until the source ends or SIGINT. */
export async function runStream(opts: RunOptions): Promise<void> {
  // Cheap checks first: the manifest, then the source's first frame, so bad input
  // fails before the model loads and before anything else is printed.
  const { manifest, dir } = readManifest(opts.modelDir);
  const demoVideo = manifest.demo ? join(dir, manifest.demo.path) : undefined;
  const source = openSource(opts.source, manifest.vision, {
    fast: opts.fast, loop: opts.loop, logger: opts.logger,
    demoVideo: demoVideo && existsSync(demoVideo) ? demoVideo : undefined,
    ...(opts.obs ? { obs: { ...opts.obs, onStatus: (e) => opts.logger.info(`obs: ${e.type}${'scene' in e ? ` ${e.scene}` : ''}${'reason' in e ? ` (${e.reason})` : ''}`) } } : {}),
  });
  const onPause = (paused: boolean, scene: string) => opts.logger.info(paused ? `commentary paused (scene '${scene}')` : `commentary resumed (scene '${scene}')`);
  const frames = skipPausedScenes(source.frames(), opts.pauseScenes ?? [], onPause)[Symbol.asyncIterator]();
  let next = await frames.next();
  let model: LiveModel | undefined;
  const jsonl = opts.jsonl ? new JsonlWriter(opts.jsonl) : undefined;
  const stop = () => void source.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger: opts.logger });
    const onEvent = (event: EngineEvent) => {
      jsonl?.write(event);
      const line = consoleLine(event);
      if (line) process.stdout.write(line + '\n');
    };
    const session = new LiveSession(model, onEvent, opts.threshold === undefined ? {} : { threshold: opts.threshold });
    for (const ask of opts.asks) session.ask(ask.t, ask.text);
    opts.logger.info(`model ${manifest.id} on ${model.provider}; source ${source.description}; threshold ${session.threshold}`);
    let lastT = 0;
    for (; !next.done; next = await frames.next()) {
      await session.pushFrame(next.value);
      lastT = next.value.t;
    }
    await session.finish(lastT + 1 / manifest.vision.fps);
    const { delivered, dropped, restarts } = source.stats();
    opts.logger.info(`source: ${delivered} frames, ${dropped} dropped while the engine was busy, ${restarts} decoder restarts`);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await source.close();
    await jsonl?.close();
    await model?.release();
  }
}
