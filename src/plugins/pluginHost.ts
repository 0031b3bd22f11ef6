import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { OutputPlugin, PluginCommands } from '../outputs/plugin.js';
import type { Logger } from '../util/log.js';
import { CONFIG_ORIGIN, loadPlugins, type LoadedPlugin, type PluginOrigin } from './manifest.js';
import { DEFAULT_TIMING, forkHost, PluginRunner, type HostChild, type RunnerTiming } from './pluginProcess.js';

/** Plugins that ship with cocaster, by name (`plugins: ["obs-text"]`). */
export const BUILTIN_PLUGINS: Readonly<Record<string, string>> = {
  'obs-text': fileURLToPath(new URL('./builtin/obs-text', import.meta.url)),
};

export const COCASTER_VERSION: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Reads and checks the configured plugins (paths relative to `cwd`); throws a UserError. */
export function loadConfiguredPlugins(specs: readonly string[], settings: Readonly<Record<string, unknown>>, origin: PluginOrigin = CONFIG_ORIGIN, cwd = process.cwd()): LoadedPlugin[] {
  return loadPlugins(specs, settings, { cwd, cocasterVersion: COCASTER_VERSION, builtins: BUILTIN_PLUGINS, origin });
}

export interface PluginHostOptions {
  spawn?: (plugin: LoadedPlugin) => HostChild;
  timing?: RunnerTiming;
  /** Receives the runners once started (tests, and the commands API). */
  onRunners?: (runners: readonly PluginRunner[]) => void;
  /** Activation waits until each plugin's first start has settled (active, or failed),
   * so that a short run's first frames reach its plugins (`cocaster run`). */
  awaitFirstStart?: boolean;
  /** The longest that wait lasts (a plugin whose activate never returns). */
  firstStartMs?: number;
}

const FIRST_START_MS = 10_000;

/** Waits for each runner's first start to settle, at most `ms`; names any still starting. */
async function firstStarts(runners: readonly PluginRunner[], logger: Logger, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  await Promise.race([Promise.all(runners.map((r) => r.settled())), timeout]);
  clearTimeout(timer);
  for (const r of runners) if (r.info().state === 'starting') logger.warn(`plugin ${r.id}: not active after ${ms / 1000} s; the stream starts without waiting for it`);
}

/** The output that runs third-party plugins, each in a host process of its own. Its bus
 * listener only posts (never awaits), so a plugin cannot delay a frame. */
export function pluginHostOutput(plugins: readonly LoadedPlugin[], opts: PluginHostOptions = {}): OutputPlugin {
  return {
    id: 'plugins',
    activate: async ({ bus, control, logger, providePlugins }) => {
      const runners = plugins.map((p) => new PluginRunner(p, control, logger, opts.spawn ?? forkHost, opts.timing ?? DEFAULT_TIMING));
      for (const r of runners) r.start();
      opts.onRunners?.(runners);
      if (opts.awaitFirstStart) await firstStarts(runners, logger, opts.firstStartMs ?? FIRST_START_MS);
      const subscription = bus.subscribe((event, at) => {
        for (const r of runners) r.post(event, at);
      });
      return [{ dispose: () => Promise.all(runners.map((r) => r.stop())).then(() => undefined) }, subscription, providePlugins(pluginCommands(runners))];
    },
  };
}

/** The plugins' states and contributed commands, for the control API. */
function pluginCommands(runners: readonly PluginRunner[]): PluginCommands {
  return {
    list: () => runners.map((r) => r.info()),
    run: (pluginId, command) => {
      const runner = runners.find((r) => r.id === pluginId);
      if (!runner) return 'no such plugin';
      if (!runner.info().commands.some((c) => c.id === command)) return 'no such command';
      return runner.runCommand(command) ? 'ok' : 'not active';
    },
  };
}
