import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { EXECUTION_PROVIDERS } from '../engine/index.js';
import { TwitchConfigSchema } from '../outputs/twitch/config.js';
import { errorMessage, UserError } from '../util/errors.js';

export const OUTPUT_IDS = ['console', 'server', 'twitch'] as const;
/** Twitch needs a channel, so it is on only when asked for. */
const DEFAULT_OUTPUTS: OutputId[] = ['console', 'server'];
export type OutputId = (typeof OUTPUT_IDS)[number];

/** Every option has a default: `cocaster start` with no file is a valid config. */
export const DaemonConfigSchema = z
  .object({
    /** file:PATH (looped), url:URL, obs, obs-stream, or demo. */
    source: z.string().min(1).default('demo'),
    /** A file (or demo) source decodes as fast as the engine goes instead of at real
     * time: hours of stream in minutes, for measurements and tests. */
    fast: z.boolean().default(false),
    /** A model package directory; default: the shipped default model. */
    model: z.string().min(1).optional(),
    ep: z.enum(EXECUTION_PROVIDERS).default('auto'),
    /** Talkativeness; default: the model's own. */
    threshold: z.number().min(0).max(1).optional(),
    /** The KV cache's token budget (older frames are evicted beyond it); default: the model's maxContext. */
    context: z.number().int().positive().optional(),
    server: z
      .object({
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(4480),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        /** SQLite file; default: transcripts.db in the config directory. */
        path: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** OBS, for the obs and obs-stream sources. The password may also come from $OBS_PASSWORD. */
    obs: z
      .object({
        url: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL').default('ws://127.0.0.1:4455'),
        password: z.string().optional(),
        /** Program scenes during which commentary pauses. */
        pauseScenes: z.array(z.string().min(1)).default(['Starting Soon', 'BRB', 'Ending']),
        /** obs-stream: the local UDP port OBS sends its program output to. */
        udpPort: z.number().int().min(1024).max(65535).default(5600),
      })
      .strict()
      .prefault({}),
    /** Twitch chat (the 'twitch' output); the token may also come from $TWITCH_TOKEN. */
    twitch: TwitchConfigSchema.optional(),
    /** Outputs to activate, besides the transcript store (always first). */
    outputs: z.array(z.enum(OUTPUT_IDS)).default([...DEFAULT_OUTPUTS]),
    /** Plugins, each in a host process of its own: folders (relative to the working
     * directory), installed npm packages, or a built-in's name ('obs-text'). */
    plugins: z.array(z.string().min(1)).default([]),
    /** Each plugin's settings by plugin id, checked against its manifest when the daemon starts. */
    pluginSettings: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

export type DaemonConfig = z.infer<typeof DaemonConfigSchema>;

/** `~/.config/cocaster`, or $COCASTER_CONFIG_DIR (tests point it at a temp dir). */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.COCASTER_CONFIG_DIR || join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'cocaster');
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join('.');
  return path ? `field '${path}': ${issue.message}` : issue.message;
}

export function parseConfig(raw: unknown, origin: string): DaemonConfig {
  const result = DaemonConfigSchema.safeParse(raw);
  if (!result.success) throw new UserError(`bad config ${origin}: ${describeIssue(result.error.issues[0]!)}`);
  return result.data;
}

export function loadConfig(file: string | undefined): DaemonConfig {
  if (file === undefined) return parseConfig({}, '(defaults)');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read config ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new UserError(`bad config ${file}: not valid JSON (${errorMessage(err)})`);
  }
  return parseConfig(raw, file);
}
