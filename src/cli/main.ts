import { parseArgs } from 'node:util';
import { defaultModelDir, parseExecutionProvider } from '../engine/index.js';
import { UserError, errorMessage, oneLine } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { bench } from './bench.js';
import { checkEvalSeed } from '../eval/arenaWorld.js';
import { evaluate } from '../eval/evaluate.js';
import { addPluginSetting, parseAsk, runStream } from './run.js';
import { exportCaptions } from './captions.js';
import { doctor } from './doctor.js';
import { modelsCommand, modelStore } from './models.js';
import { obsSetup } from './obsSetup.js';
import { resolveModel } from '../models/store.js';
import { soak } from './soak.js';
import { runDaemon } from './start.js';

const USAGE = `usage: cocaster <command> [options]

commands:
  start [--config FILE]      the daemon: source -> model -> overlay, control panel, transcript
                             (JSON config; every option has a default: demo source, default model)
  doctor [--config FILE] [--model DIR]
                             check ffmpeg, model files, execution providers, port, OBS; say what to fix
  obs setup [--config FILE]  create or update the Browser Source "cocaster overlay" in OBS's current scene,
                             and print the control panel's URL for an OBS custom browser dock
  models list | add DIR | pull URL | verify ID|DIR [--ep EP] | remove ID
                             installed model packages ($COCASTER_MODELS, else the config dir's models/);
                             pull downloads (resumable, every sha256 checked); --model ID uses one
  captions [--session ID] [--format srt|vtt] [--config FILE]
                             a session's commentary as subtitles (default: the latest session, srt)
  run --source SRC           run on a source: file:PATH, url:URL, obs, obs-stream, demo
      [--model DIR] [--ask SECONDS:TEXT]... [--threshold X] [--context N] [--ep EP] [--fast] [--loop] [--jsonl OUT]
      [--obs-url ws://127.0.0.1:4455] [--obs-password PW (or env OBS_PASSWORD)] [--pause-scene NAME]...
      [--plugin PATH|NAME]... [--plugin-setting ID.KEY=VALUE]...
  bench [--json] [--model DIR] [--frames N] [--ep EP] [--threads N] [--profile] [--compare-torch]
                             benchmark the engine on a fixed synthetic stream (fps, fps at 500/1,500/3,000
                             cached tokens; --profile: ms per frame by part; --compare-torch: the PyTorch
                             reference loop on the same weights and frames, needs python3 with torch)
  soak [--hours H] [--source demo|file:PATH] [--model DIR] [--context N] [--ep EP] [--json]
                             hours of video (looped, as fast as possible) through the engine:
                             context resets, compactions, fps and memory per 10 minutes
  eval [--model DIR] [--episodes N] [--seed S] [--threshold X] [--matches-per-stream K] [--context N] [--json]
                             score the model on held-out arena matches (seeds >= 100000; K matches
                             back to back in one stream, to score it across compactions;
                             needs python3 with numpy and Pillow for the world generator)

EP: auto (default), webgpu, cuda, dml, coreml, cpu`;

const logger = createLogger();

function parseThreshold(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new UserError(`--threshold must be a number from 0 to 1, got '${value}'`);
  return x;
}

/** The KV cache's token budget; the engine checks it against the model's range. */
function parseContext(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UserError(`--context must be a positive integer (tokens), got '${value}'`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...afterCommand] = argv;
  // `obs setup`, `models list|add|pull|verify|remove`: commands with a sub-command (and an argument).
  const hasSub = command === 'obs' || command === 'models';
  const sub = hasSub ? afterCommand[0] : undefined;
  const subArg = command === 'models' && afterCommand[1] && !afterCommand[1].startsWith('--') ? afterCommand[1] : undefined;
  const rest = hasSub ? afterCommand.slice(subArg === undefined ? 1 : 2) : afterCommand;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const { values } = parseArgs({
    args: rest,
    strict: true,
    options: {
      source: { type: 'string' },
      model: { type: 'string' },
      ask: { type: 'string', multiple: true },
      threshold: { type: 'string' },
      context: { type: 'string' },
      ep: { type: 'string', default: 'auto' },
      fast: { type: 'boolean', default: false },
      loop: { type: 'boolean', default: false },
      jsonl: { type: 'string' },
      json: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'compare-torch': { type: 'boolean', default: false },
      threads: { type: 'string' },
      frames: { type: 'string', default: '600' },
      hours: { type: 'string', default: '4' },
      'matches-per-stream': { type: 'string', default: '1' },
      episodes: { type: 'string', default: '20' },
      seed: { type: 'string', default: '424242' },
      config: { type: 'string' },
      session: { type: 'string' },
      format: { type: 'string', default: 'srt' },
      'obs-url': { type: 'string', default: 'ws://127.0.0.1:4455' },
      'obs-password': { type: 'string' },
      'pause-scene': { type: 'string', multiple: true },
      plugin: { type: 'string', multiple: true },
      'plugin-setting': { type: 'string', multiple: true },
    },
  });
  const ep = parseExecutionProvider(values.ep!);
  // --model takes a package folder or the id of an installed one (cocaster models list).
  const modelDir = (): string => (values.model === undefined ? defaultModelDir() : resolveModel(values.model, modelStore()));
  switch (command) {
    case 'start':
      await runDaemon(values.config, logger);
      return;
    case 'doctor': {
      const { lines, ok } = await doctor(values.config, values.model && modelStore().has(values.model) ? modelStore().dirOf(values.model) : values.model); // a bad --model is one of doctor's FAIL lines
      process.stdout.write(lines.join('\n') + '\n');
      if (!ok) process.exitCode = 1;
      return;
    }
    case 'models':
      await modelsCommand(sub, subArg, ep, logger);
      return;
    case 'obs':
      if (sub !== 'setup') throw new UserError(`unknown obs command '${sub ?? ''}' (try: cocaster obs setup)`);
      process.stdout.write((await obsSetup(values.config)) + '\n');
      return;
    case 'captions':
      process.stdout.write(exportCaptions({ format: values.format!, configFile: values.config, session: values.session }));
      return;
    case 'run': {
      const source = values.source;
      if (!source) throw new UserError('run needs --source (file:PATH, url:URL, obs, obs-stream or demo)');
      // The password may come from the environment, keeping it out of the process list.
      const obsPassword = values['obs-password'] ?? process.env.OBS_PASSWORD;
      const threshold = parseThreshold(values.threshold);
      const context = parseContext(values.context);
      await runStream({
        source, modelDir: modelDir(), ep, fast: values.fast!, loop: values.loop!, logger, threshold, context, jsonl: values.jsonl,
        asks: (values.ask ?? []).map(parseAsk),
        obs: { url: values['obs-url']!, password: obsPassword },
        pauseScenes: values['pause-scene'] ?? [],
        plugins: values.plugin ?? [],
        pluginSettings: (values['plugin-setting'] ?? []).reduce(addPluginSetting, {}),
      });
      return;
    }
    case 'bench': {
      const frames = Number(values.frames);
      if (!Number.isInteger(frames) || frames < 1) throw new UserError(`--frames must be a positive integer, got '${values.frames}'`);
      const threads = values.threads === undefined ? undefined : Number(values.threads);
      if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new UserError(`--threads must be a positive integer, got '${values.threads}'`);
      const result = await bench({ modelDir: modelDir(), frames, ep, logger, profile: values.profile!, compareTorch: values['compare-torch']!, threads });
      process.stdout.write((values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2)) + '\n');
      return;
    }
    case 'soak': {
      const hours = Number(values.hours);
      if (!Number.isFinite(hours) || hours <= 0) throw new UserError(`--hours must be a positive number, got '${values.hours}'`);
      const result = await soak({ modelDir: modelDir(), source: values.source ?? 'demo', hours, ep, context: parseContext(values.context), logger });
      process.stdout.write((values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2)) + '\n');
      return;
    }
    case 'eval': {
      const episodes = Number(values.episodes);
      const seed = Number(values.seed);
      if (!Number.isInteger(episodes) || episodes < 1) throw new UserError(`--episodes must be a positive integer, got '${values.episodes}'`);
      if (!Number.isInteger(seed)) throw new UserError(`--seed must be an integer, got '${values.seed}'`);
      checkEvalSeed(seed); // before the model loads, so a wrong seed costs nothing and says one line
      const threshold = parseThreshold(values.threshold);
      const matchesPerStream = Number(values['matches-per-stream']);
      if (!Number.isInteger(matchesPerStream) || matchesPerStream < 1) throw new UserError(`--matches-per-stream must be a positive integer, got '${values['matches-per-stream']}'`);
      const result = await evaluate({ modelDir: modelDir(), episodes, seed, ep, logger, threshold, matchesPerStream, context: parseContext(values.context) });
      process.stdout.write((values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2)) + '\n');
      return;
    }
    default:
      throw new UserError(`unknown command '${command}' (try: cocaster help)`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    // Bad input is the user's to fix: one line, exit 2. Anything else is our bug.
    const isUser = err instanceof UserError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`cocaster: ${oneLine(errorMessage(err))}\n`);
    if (!isUser && process.env.COCASTER_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(isUser ? 2 : 1);
  },
);
