import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus, type BusEvent, type Disposable } from '../bus/index.js';
import { openSource, skipPausedScenes, type FrameSource, type ObsStatusEvent, type SourceFrame } from '../capture/index.js';
import { defaultModelDir, LiveModel, LiveSession, readManifest } from '../engine/index.js';
import { consoleOutput } from '../outputs/console/consoleOutput.js';
import { activateAll, type DaemonControl, type OutputPlugin, type QuestionModeration } from '../outputs/plugin.js';
import { serverOutput } from '../outputs/server/serverOutput.js';
import { TwitchConfigSchema } from '../outputs/twitch/config.js';
import { twitchOutput } from '../outputs/twitch/twitchOutput.js';
import { storeOutput } from '../outputs/store/storeOutput.js';
import { TranscriptStore } from '../store/index.js';
import { errorMessage, oneLine } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { DaemonConfig, OutputId } from './config.js';
import { EngineLoop } from './engineLoop.js';
import { loadOrCreateTokens, type Tokens } from './tokens.js';

export interface DaemonOptions {
  config: DaemonConfig;
  configDir: string;
  logger: Logger;
  /** Where the URLs and the first-start token go (the user's terminal). */
  announce(line: string): void;
}

export interface RunningDaemon {
  /** Resolves when the source loop has ended (by stop() or by the source). */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

/** A live source is looped when it is a file: the daemon is meant to keep running. */
function openLiveSource(config: DaemonConfig, modelDir: string, logger: Logger, onObsStatus: (e: ObsStatusEvent) => void): FrameSource {
  const { manifest, dir } = readManifest(modelDir);
  const demo = manifest.demo ? join(dir, manifest.demo.path) : undefined;
  const password = config.obs.password ?? process.env.OBS_PASSWORD;
  return openSource(config.source, manifest.vision, {
    fast: false, loop: true, logger, demoVideo: demo && existsSync(demo) ? demo : undefined,
    obs: { url: config.obs.url, udpPort: config.obs.udpPort, onStatus: onObsStatus, ...(password ? { password } : {}) },
  });
}

function outputPlugins(ids: readonly OutputId[], tokens: Tokens, config: DaemonConfig, announceUrls: (port: number) => void, moderation: { current?: QuestionModeration }): OutputPlugin[] {
  const all: Record<OutputId, () => OutputPlugin> = {
    console: () => consoleOutput(),
    server: () => serverOutput({ host: config.server.host, port: config.server.port, tokens, onListening: (a) => announceUrls(a.port) }),
    twitch: () => twitchOutput({ config: config.twitch ?? TwitchConfigSchema.parse({}), envToken: process.env.TWITCH_TOKEN || undefined, moderation }),
  };
  return [...new Set(ids)].map((id) => all[id]());
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const { config, logger } = opts;
  const modelDir = config.model ?? defaultModelDir();
  // Cheap checks first (manifest, source, first frame), so bad input fails fast.
  // Events from before the bus exists (OBS connecting) are published once it does.
  const early: Array<BusEvent> = [];
  let publish = (e: BusEvent): void => {
    early.push(e);
  };
  const source = openLiveSource(config, modelDir, logger, (e) => publish(e));
  const onScenePause = (paused: boolean, scene: string) => publish({ type: 'scenePause', paused, scene });
  const frames = skipPausedScenes(source.frames(), config.obs.pauseScenes, onScenePause)[Symbol.asyncIterator]();
  let first: IteratorResult<SourceFrame>;
  try {
    first = await frames.next();
  } catch (err) {
    await source.close();
    throw err;
  }
  const { tokens, created } = loadOrCreateTokens(opts.configDir);
  const store = new TranscriptStore(config.store.path ?? join(opts.configDir, 'transcripts.db'));
  let model: LiveModel | undefined;
  let outputs: Disposable | undefined;
  try {
    model = await LiveModel.load(modelDir, { ep: config.ep, logger });
    const sessionId = store.startSession(source.description, model.manifest.id);
    const bus = new EventBus(logger);
    publish = (e) => bus.publish(e);
    const session = new LiveSession(model, (e) => bus.publish(e), config.threshold === undefined ? {} : { threshold: config.threshold });
    const loop = new EngineLoop(session, bus);
    let sourceState: 'running' | 'ended' | 'error' = 'running';
    let stopRequested = false;
    const loaded = model;
    /** Set by the twitch output while it runs (manual approval). */
    const moderation: { current?: QuestionModeration } = {};
    const control: DaemonControl = {
      get questions() {
        return moderation.current;
      },
      status: () => ({
        source: source.description, sourceState, model: loaded.manifest.id, executionProvider: loaded.provider,
        fps: loop.meter.fps, latencyMs: loop.meter.latencyMs, threshold: session.threshold, paused: loop.paused,
        sessionId, videoTime: loop.videoTime,
      }),
      pause: () => loop.pause(),
      resume: () => loop.resume(),
      setThreshold: (threshold) => {
        session.threshold = threshold;
        bus.publish({ type: 'thresholdChanged', threshold });
      },
      ask: (text, asker) => {
        const q = session.ask(loop.videoTime, text, asker);
        bus.publish({ type: 'questionQueued', t: q.t, id: q.id, text: q.text, ...(q.asker ? { asker: q.asker } : {}) });
        return { id: q.id, t: q.t };
      },
      recentLines: (limit) => store.recent(sessionId, limit),
    };
    const announceUrls = (port: number) => {
      const base = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
      opts.announce(`overlay:       ${base}/overlay/?token=${tokens.overlay}`);
      // The control token is shown once, at first start; afterwards it lives only in the 0600 file.
      opts.announce(created ? `control panel: ${base}/#token=${tokens.control}` : `control panel: ${base}/ (control token: ${join(opts.configDir, 'tokens.json')})`);
    };
    const plugins = [storeOutput(store, sessionId), ...outputPlugins(config.outputs, tokens, config, announceUrls, moderation)];
    outputs = await activateAll(plugins, { bus, control, logger });
    for (const e of early.splice(0)) bus.publish(e);
    logger.info(`session ${sessionId}: model ${loaded.manifest.id} on ${loaded.provider}; source ${source.description}; threshold ${session.threshold}`);
    bus.publish({ type: 'sourceStatus', state: 'running', description: source.description });
    const done = loop.run(frames, first).then(
      () => {
        sourceState = 'ended';
        bus.publish({ type: 'sourceStatus', state: 'ended', description: source.description });
      },
      (err: unknown) => {
        // Closing ffmpeg under a pending read ends it with 'Premature close': that is our stop, not a failure.
        if (stopRequested) return;
        sourceState = 'error';
        const message = oneLine(errorMessage(err));
        logger.error(`source stopped: ${message}`);
        bus.publish({ type: 'sourceStatus', state: 'error', description: source.description, message });
      },
    );
    const disposeOutputs = outputs;
    let stopping: Promise<void> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        stopRequested = true;
        await source.close();
        await done;
        await disposeOutputs.dispose(); // closes the server, then the store (activated first)
        await loaded.release();
      })());
    return { done, stop };
  } catch (err) {
    await source.close();
    await outputs?.dispose();
    store.close();
    await model?.release();
    throw err;
  }
}
