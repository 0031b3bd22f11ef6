import { startRun, type RunOptions } from '../daemon/daemon.js';
import { UserError } from '../util/errors.js';
import { untilSignal } from './signals.js';

/** Parses `--ask SECONDS:TEXT`. */
export function parseAsk(value: string): { t: number; text: string } {
  const m = /^(\d+(?:\.\d+)?):(.+)$/s.exec(value);
  if (!m) throw new UserError(`--ask expects SECONDS:TEXT, got '${value}'`);
  return { t: Number(m[1]), text: m[2]! };
}

/** Parses `--plugin-setting ID.KEY=VALUE` into `pluginSettings`: VALUE is JSON where it
 * parses as JSON (3, true, ["a"]), else the text itself; the plugin's manifest checks it. */
export function addPluginSetting(settings: Record<string, Record<string, unknown>>, value: string): Record<string, Record<string, unknown>> {
  const m = /^([a-z0-9][a-z0-9-]*)\.([A-Za-z][A-Za-z0-9_]*)=(.*)$/s.exec(value);
  if (!m) throw new UserError(`--plugin-setting expects ID.KEY=VALUE, got '${value}'`);
  const [, id, key, text] = m as unknown as [string, string, string, string];
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the text itself
  }
  return { ...settings, [id]: { ...settings[id], [key]: parsed } };
}

/** `cocaster run`: until the source ends or SIGINT/SIGTERM; either way an orderly
 * stop, the source's summary on stderr, exit 0. */
export async function runStream(opts: RunOptions): Promise<void> {
  const run = await startRun(opts);
  const signal = untilSignal();
  try {
    await Promise.race([run.done, signal.received]);
    // The failure itself was logged as it happened; the exit code tells scripts.
    if (run.control.status().sourceState === 'error') process.exitCode = 1;
  } finally {
    // Still caught while the run stops: a Ctrl-C as the source ends (or a second one)
    // must not kill the process mid-stop, before the JSONL and the plugins are flushed.
    const { delivered, dropped, restarts } = await run.stop().finally(() => signal.dispose());
    opts.logger.info(`source: ${delivered} frames, ${dropped} dropped while the engine was busy, ${restarts} decoder restarts`);
  }
}
