import { configDir, loadConfig } from '../daemon/config.js';
import { startDaemon } from '../daemon/daemon.js';
import type { Logger } from '../util/log.js';
import { untilSignal } from './signals.js';

/** `cocaster start`: runs until SIGINT/SIGTERM, then shuts down in order (source,
 * engine loop, outputs: server then store, model). A source that ends by itself (a
 * url: stream) leaves the server up until a signal. */
export async function runDaemon(configFile: string | undefined, logger: Logger): Promise<void> {
  const config = loadConfig(configFile);
  const daemon = await startDaemon({ config, configDir: configDir(), logger, announce: (line) => process.stderr.write(line + '\n') });
  const signal = untilSignal();
  try {
    const name = await signal.received;
    logger.info(`${name}: shutting down`);
  } finally {
    signal.dispose();
    await daemon.stop();
  }
}
