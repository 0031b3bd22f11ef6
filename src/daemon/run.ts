import type { Logger } from '../util/log.js';
import { configDir, loadConfig } from './config.js';
import { startDaemon } from './daemon.js';

/** `cocaster start`: runs until SIGINT/SIGTERM, then shuts down in order (source,
 * engine loop, outputs: server then store, model). */
export async function runDaemon(configFile: string | undefined, logger: Logger): Promise<void> {
  const config = loadConfig(configFile);
  const daemon = await startDaemon({ config, configDir: configDir(), logger, announce: (line) => process.stderr.write(line + '\n') });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) return;
    signalled = true;
    logger.info(`${signal}: shutting down`);
    void daemon.stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await daemon.done;
    // A source that ended (a url: stream) leaves the server up until a signal.
    if (!signalled) await new Promise<void>((res) => { process.once('SIGINT', () => res()); process.once('SIGTERM', () => res()); });
    await daemon.stop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
