import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openSource } from '../capture/index.js';
import { LiveModel, LiveSession, type EngineEvent, type ExecutionProviderChoice } from '../engine/index.js';
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
  const model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger: opts.logger });
  const { manifest } = model;
  const demoVideo = manifest.demo ? join(model.pkg.dir, manifest.demo.path) : undefined;
  const source = openSource(opts.source, manifest.vision, { fast: opts.fast, loop: opts.loop, demoVideo: demoVideo && existsSync(demoVideo) ? demoVideo : undefined });
  const jsonl = opts.jsonl ? new JsonlWriter(opts.jsonl) : undefined;
  const onEvent = (event: EngineEvent) => {
    jsonl?.write(event);
    const line = consoleLine(event);
    if (line) process.stdout.write(line + '\n');
  };
  const session = new LiveSession(model, onEvent, opts.threshold === undefined ? {} : { threshold: opts.threshold });
  for (const ask of opts.asks) session.ask(ask.t, ask.text);
  opts.logger.info(`model ${manifest.id} on ${model.provider}; source ${source.description}; threshold ${session.threshold}`);

  const stop = () => void source.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let lastT = 0;
  try {
    for await (const frame of source.frames()) {
      await session.pushFrame(frame);
      lastT = frame.t;
    }
    await session.finish(lastT + 1 / manifest.vision.fps);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await jsonl?.close();
    await model.release();
  }
}
