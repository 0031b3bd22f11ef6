import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { EventBus, type BusEvent, type Disposable } from '../bus/index.js';
import { openSource, skipPausedScenes, type FrameSource, type ObsOptions, type SourceFrame } from '../capture/index.js';
import { LiveModel, LiveSession, readManifest, type ExecutionProviderChoice } from '../engine/index.js';
import { activateAll, ProvidedSlot, type DaemonControl, type PluginCommands, type OutputPlugin, type QuestionModeration, type TranscriptProvider } from '../outputs/plugin.js';
import type { AcceptedQuestion, ChatStatus, SourceState } from '../protocol/index.js';
import { errorMessage, oneLine } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { EngineLoop } from './engineLoop.js';
import { HealthTracker } from './health.js';

export interface PipelineOptions {
  /** file:PATH, url:URL, obs, obs-stream or demo. */
  source: string;
  /** Decode files as fast as possible instead of at real time. */
  fast: boolean;
  /** Play a file source again from the start when it ends. */
  loop: boolean;
  modelDir: string;
  ep: ExecutionProviderChoice;
  /** Talkativeness; default: the model's own. */
  threshold?: number;
  /** The KV cache's token budget; default: the model's maxContext. */
  context?: number;
  /** For the obs and obs-stream sources. */
  obs: Omit<ObsOptions, 'onStatus'>;
  /** Program scenes during which commentary pauses. */
  pauseScenes: readonly string[];
  /** Questions at fixed video times (`cocaster run --ask`). */
  asks?: ReadonlyArray<{ t: number; text: string }>;
  /** Activated in order once the model is loaded; disposed in reverse order. */
  outputs: readonly OutputPlugin[];
  logger: Logger;
}

export interface SourceSummary {
  delivered: number;
  dropped: number;
  restarts: number;
}

export interface RunningPipeline {
  /** Resolves when the source has ended (by itself or by stop()) and the engine has
   * finished with it; never rejects: a failing source is logged and published. */
  readonly done: Promise<void>;
  readonly control: DaemonControl;
  /** Stops the source, waits for the engine, disposes the outputs, releases the
   * model. Idempotent. Resolves with the source's counters. */
  stop(): Promise<SourceSummary>;
}

/**
 * The one pipeline: source → engine (LiveSession) → event bus → outputs. `cocaster
 * start` runs it with the store, console, server (and chat) outputs; `cocaster run`
 * with the console and JSONL outputs. Cheap checks come first (manifest, source,
 * first frame), so bad input fails before the model loads.
 */
export async function startPipeline(opts: PipelineOptions): Promise<RunningPipeline> {
  const { logger } = opts;
  // Events from before the bus exists (OBS connecting) are published once it does.
  const early: BusEvent[] = [];
  let publish = (e: BusEvent): void => void early.push(e);
  const source = openPipelineSource(opts, (e) => publish(e));
  const onScenePause = (paused: boolean, scene: string) => publish({ type: 'scenePause', paused, scene });
  const frames = skipPausedScenes(source.frames(), opts.pauseScenes, onScenePause)[Symbol.asyncIterator]();
  let model: LiveModel | undefined;
  let outputs: Disposable | undefined;
  try {
    const first = await frames.next();
    model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger });
    const loaded = model;
    const bus = new EventBus(logger);
    publish = (e) => bus.publish(e);
    const session = new LiveSession(loaded, (e) => bus.publish(e), { threshold: opts.threshold, context: opts.context });
    const loop = new EngineLoop(session, bus, opts.fast ? loaded.framesPerStep : 1);
    const moderation = new ProvidedSlot<QuestionModeration>();
    const transcript = new ProvidedSlot<TranscriptProvider>();
    const chat = new ProvidedSlot<() => ChatStatus>();
    const plugins = new ProvidedSlot<PluginCommands>();
    const health = new HealthTracker(opts.source === 'obs' || opts.source === 'obs-stream');
    bus.subscribe((e) => health.apply(e));
    let sourceState: SourceState = 'running';
    const queueQuestion = (t: number, text: string, asker?: string): AcceptedQuestion => {
      const q = session.ask(t, text, asker);
      bus.publish({ type: 'questionQueued', t: q.t, id: q.id, text: q.text, asker: q.asker });
      return { id: q.id, t: q.t };
    };
    const control: DaemonControl = {
      get questions() {
        return moderation.current;
      },
      get sessions() {
        return transcript.current?.archive;
      },
      get plugins() {
        return plugins.current;
      },
      status: () => ({
        source: source.description, sourceState, model: loaded.manifest.id, executionProvider: loaded.provider,
        fps: loop.meter.fps, latencyMs: loop.meter.latencyMs, threshold: session.threshold, paused: loop.paused,
        sessionId: transcript.current?.sessionId ?? 0, videoTime: loop.videoTime,
        targetFps: loaded.manifest.vision.fps, framesDropped: source.stats().dropped, sourceError: health.sourceError,
        obs: health.obs, pauseScene: health.pauseScene, chat: chat.current?.() ?? null,
      }),
      pause: () => loop.pause(),
      resume: () => loop.resume(),
      setThreshold: (threshold) => {
        session.threshold = threshold;
        bus.publish({ type: 'thresholdChanged', threshold });
      },
      ask: (text, asker) => queueQuestion(loop.videoTime, text, asker),
      recentLines: (limit) => transcript.current?.recent(limit) ?? [],
    };
    logStateChanges(bus, logger);
    const provideModeration = (m: QuestionModeration) => moderation.provide(m);
    const provideTranscript = (t: TranscriptProvider) => transcript.provide(t);
    const provideChatStatus = (s: () => ChatStatus) => chat.provide(s);
    const providePlugins = (p: PluginCommands) => plugins.provide(p);
    outputs = await activateAll(opts.outputs, { bus, control, logger, provideModeration, provideTranscript, provideChatStatus, providePlugins });
    for (const e of early.splice(0)) bus.publish(e);
    for (const ask of opts.asks ?? []) queueQuestion(ask.t, ask.text);
    const sessionNote = transcript.current ? `session ${transcript.current.sessionId}: ` : '';
    logger.info(`${sessionNote}model ${loaded.manifest.id} on ${loaded.provider}; source ${source.description}; threshold ${session.threshold}`);
    bus.publish({ type: 'sourceStatus', state: 'running', description: source.description });

    let stopRequested = false;
    const done = loop.run(frames, first).then(
      async (lastT) => {
        // Questions asked up to one frame past the end still get their answer.
        if (!stopRequested && lastT !== undefined) await session.finish(lastT + 1 / loaded.manifest.vision.fps);
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
    let stopping: Promise<SourceSummary> | undefined;
    const stop = () =>
      (stopping ??= (async () => {
        stopRequested = true;
        await source.close();
        await done;
        await disposeOutputs.dispose(); // in reverse order: the server before the store (activated first)
        await loaded.release();
        return source.stats();
      })());
    return { done, control, stop };
  } catch (err) {
    await source.close();
    await outputs?.dispose();
    await model?.release();
    throw err;
  }
}

/** The model package's demo video stands behind the `demo` source. */
function openPipelineSource(opts: PipelineOptions, publish: (e: BusEvent) => void): FrameSource {
  const { manifest, dir } = readManifest(opts.modelDir);
  const demo = manifest.demo ? join(dir, manifest.demo.path) : undefined;
  return openSource(opts.source, manifest.vision, {
    fast: opts.fast, loop: opts.loop, logger: opts.logger, demoVideo: demo && existsSync(demo) ? demo : undefined,
    obs: { ...opts.obs, onStatus: publish },
  });
}

/** State changes of the source go to the log as well as to the outputs. */
function logStateChanges(bus: EventBus, logger: Logger): void {
  bus.subscribe((e) => {
    if (e.type === 'scenePause') logger.info(`commentary ${e.paused ? 'paused' : 'resumed'} (scene '${e.scene}')`);
    else if (e.type === 'obsConnected') logger.info(`obs: obsConnected ${e.url}`);
    else if (e.type === 'obsDisconnected') logger.info(`obs: obsDisconnected (${e.reason})`);
  });
}
