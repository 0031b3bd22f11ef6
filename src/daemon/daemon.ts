import { join } from 'node:path';
import { loadOrCreateTokens, TOKENS_FILE, type Tokens } from '../auth/tokens.js';
import type { ObsOptions } from '../capture/index.js';
import { defaultModelDir, type ExecutionProviderChoice } from '../engine/index.js';
import { openStore, resolveModel } from '../models/store.js';
import { consoleOutput } from '../outputs/console/consoleOutput.js';
import { jsonlOutput } from '../outputs/jsonl/jsonlOutput.js';
import type { OutputPlugin } from '../outputs/plugin.js';
import { serverOutput } from '../outputs/server/serverOutput.js';
import { storeOutput } from '../outputs/store/index.js';
import { TwitchConfigSchema } from '../outputs/twitch/config.js';
import { twitchOutput } from '../outputs/twitch/twitchOutput.js';
import { loadConfiguredPlugins, pluginHostOutput } from '../plugins/pluginHost.js';
import { FLAGS_ORIGIN } from '../plugins/manifest.js';
import type { Logger } from '../util/log.js';
import type { DaemonConfig, OutputId } from './config.js';
import { startPipeline, type RunningPipeline } from './pipeline.js';

export interface DaemonOptions {
  config: DaemonConfig;
  configDir: string;
  logger: Logger;
  /** Where the URLs and the first-start token go (the user's terminal). */
  announce(line: string): void;
}

/** `cocaster start`: the pipeline with the transcript store (first: nothing is
 * broadcast before it is committed), then the configured outputs. A file source is
 * looped: the daemon is meant to keep running. */
export async function startDaemon(opts: DaemonOptions): Promise<RunningPipeline> {
  const { config, logger } = opts;
  // Manifests and settings are checked before anything starts: a bad one is one line, exit 2.
  const plugins = loadConfiguredPlugins(config.plugins, config.pluginSettings);
  const { tokens, created } = loadOrCreateTokens(opts.configDir);
  const announceUrls = (port: number) => {
    const base = `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`;
    opts.announce(`overlay:       ${base}/overlay/?token=${tokens.overlay}`);
    // The control token is shown once, at first start; afterwards it lives only in the 0600 file.
    opts.announce(created ? `control panel: ${base}/#token=${tokens.control}` : `control panel: ${base}/ (control token: ${join(opts.configDir, TOKENS_FILE)})`);
  };
  const outputs = [storeOutput(config.store.path ?? join(opts.configDir, 'transcripts.db')), ...configuredOutputs(config, tokens, announceUrls)];
  if (plugins.length > 0) outputs.push(pluginHostOutput(plugins));
  const password = config.obs.password ?? process.env.OBS_PASSWORD;
  return startPipeline({
    source: config.source, fast: config.fast, loop: true, modelDir: config.model === undefined ? defaultModelDir() : resolveModel(config.model, openStore(opts.configDir)), ep: config.ep, threshold: config.threshold, context: config.context,
    obs: { url: config.obs.url, udpPort: config.obs.udpPort, password }, pauseScenes: config.obs.pauseScenes, outputs, logger,
  });
}

function configuredOutputs(config: DaemonConfig, tokens: Tokens, announceUrls: (port: number) => void): OutputPlugin[] {
  const all: Record<OutputId, () => OutputPlugin> = {
    console: () => consoleOutput(),
    server: () => serverOutput({ host: config.server.host, port: config.server.port, tokens, onListening: (a) => announceUrls(a.port) }),
    twitch: () => twitchOutput({ config: config.twitch ?? TwitchConfigSchema.parse({}), envToken: process.env.TWITCH_TOKEN || undefined }),
  };
  return [...new Set(config.outputs)].map((id) => all[id]());
}

export interface RunOptions {
  source: string;
  modelDir: string;
  ep: ExecutionProviderChoice;
  threshold?: number;
  /** The KV cache's token budget; default: the model's maxContext. */
  context?: number;
  fast: boolean;
  loop: boolean;
  asks: ReadonlyArray<{ t: number; text: string }>;
  /** Also write every engine event as JSON lines to this file. */
  jsonl?: string;
  obs: Omit<ObsOptions, 'onStatus'>;
  pauseScenes: readonly string[];
  /** Plugins (folders, built-in names or npm packages) and their settings, as under `start`. */
  plugins: readonly string[];
  pluginSettings: Readonly<Record<string, unknown>>;
  logger: Logger;
}

/** `cocaster run`: the same pipeline with the console (and JSONL) outputs and the
 * given plugins, and no server or store. */
export function startRun(opts: RunOptions): Promise<RunningPipeline> {
  // Checked before anything starts, as under `start`: a bad plugin is one line, exit 2.
  const plugins = loadConfiguredPlugins(opts.plugins, opts.pluginSettings, FLAGS_ORIGIN);
  const outputs = [consoleOutput(), ...(opts.jsonl === undefined ? [] : [jsonlOutput(opts.jsonl)]), ...(plugins.length > 0 ? [pluginHostOutput(plugins, { awaitFirstStart: true })] : [])];
  return startPipeline({ ...opts, outputs });
}
