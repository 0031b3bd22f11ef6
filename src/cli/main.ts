import { parseArgs } from 'node:util';
import { defaultModelDir, parseExecutionProvider } from '../engine/index.js';
import { UserError, errorMessage, oneLine } from '../util/errors.js';
import { createLogger } from '../util/log.js';
import { bench } from './bench.js';
import { evaluate } from '../eval/evaluate.js';
import { parseAsk, runStream } from './run.js';

const USAGE = `usage: cocaster <command> [options]

commands:
  start                      run the co-caster on the default model and source (the demo)
  run --source SRC           run on a source: file:PATH, url:URL, demo
      [--model DIR] [--ask SECONDS:TEXT]... [--threshold X] [--ep EP] [--fast] [--loop] [--jsonl OUT]
  bench [--json] [--model DIR] [--frames N] [--ep EP]
                             benchmark the engine on a fixed synthetic stream
  eval [--model DIR] [--episodes N] [--seed S] [--threshold X] [--json]
                             score the model on held-out arena matches (seeds >= 100000;
                             needs python3 with numpy and Pillow for the world generator)

EP: auto (default), webgpu, cuda, dml, coreml, cpu`;

const logger = createLogger();

function parseThreshold(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const x = Number(value);
  if (!Number.isFinite(x) || x < 0 || x > 1) throw new UserError(`--threshold must be a number from 0 to 1, got '${value}'`);
  return x;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
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
      ep: { type: 'string', default: 'auto' },
      fast: { type: 'boolean', default: false },
      loop: { type: 'boolean', default: false },
      jsonl: { type: 'string' },
      json: { type: 'boolean', default: false },
      frames: { type: 'string', default: '600' },
      episodes: { type: 'string', default: '20' },
      seed: { type: 'string', default: '424242' },
    },
  });
  const ep = parseExecutionProvider(values.ep!);
  const modelDir = values.model ?? defaultModelDir();
  switch (command) {
    case 'run':
    case 'start': {
      const source = values.source ?? (command === 'start' ? 'demo' : undefined);
      if (!source) throw new UserError('run needs --source (file:PATH, url:URL or demo)');
      const threshold = parseThreshold(values.threshold);
      await runStream({
        source, modelDir, ep, fast: values.fast!, loop: values.loop!, logger,
        asks: (values.ask ?? []).map(parseAsk),
        ...(threshold === undefined ? {} : { threshold }),
        ...(values.jsonl ? { jsonl: values.jsonl } : {}),
      });
      return;
    }
    case 'bench': {
      const frames = Number(values.frames);
      if (!Number.isInteger(frames) || frames < 1) throw new UserError(`--frames must be a positive integer, got '${values.frames}'`);
      const result = await bench({ modelDir, frames, ep, logger });
      process.stdout.write((values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2)) + '\n');
      return;
    }
    case 'eval': {
      const episodes = Number(values.episodes);
      const seed = Number(values.seed);
      if (!Number.isInteger(episodes) || episodes < 1) throw new UserError(`--episodes must be a positive integer, got '${values.episodes}'`);
      if (!Number.isInteger(seed)) throw new UserError(`--seed must be an integer, got '${values.seed}'`);
      const threshold = parseThreshold(values.threshold);
      const result = await evaluate({ modelDir, episodes, seed, ep, logger, ...(threshold === undefined ? {} : { threshold }) });
      process.stdout.write((values.json ? JSON.stringify(result) : JSON.stringify(result, null, 2)) + '\n');
      return;
    }
    default:
      throw new UserError(`unknown command '${command}' (try: cocaster help)`);
  }
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (err: unknown) => {
    // Bad input is the user's to fix: one line, exit 2. Anything else is our bug.
    const isUser = err instanceof UserError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`cocaster: ${oneLine(errorMessage(err))}\n`);
    if (!isUser && process.env.COCASTER_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exit(isUser ? 2 : 1);
  },
);
