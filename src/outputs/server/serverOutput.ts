import type { Tokens } from '../../auth/tokens.js';
import { startServer, type RunningServer } from './server.js';
import type { OutputPlugin } from '../plugin.js';

export interface ServerOutputOptions {
  host: string;
  port: number;
  tokens: Tokens;
  staticDir?: string;
  onListening(address: { host: string; port: number }): void;
}

/** How often the control panel gets fps/latency while nothing else changes. */
const STATUS_INTERVAL_MS = 2000;

/** The HTTP/websocket server: overlay, control panel, control API. */
export function serverOutput(opts: ServerOutputOptions): OutputPlugin {
  return {
    id: 'server',
    activate: async ({ bus, control, logger }) => {
      const server: RunningServer = await startServer({ ...opts, control, logger });
      opts.onListening(server.address);
      const timer = setInterval(() => server.sockets.broadcastStatus(), STATUS_INTERVAL_MS);
      timer.unref();
      return [
        { dispose: () => server.close() },
        { dispose: () => clearInterval(timer) },
        bus.subscribe((event, at) => {
          server.sockets.broadcastEvent(event, at);
          if (event.type === 'paused' || event.type === 'resumed' || event.type === 'thresholdChanged' || event.type === 'sourceStatus') server.sockets.broadcastStatus();
        }),
      ];
    },
  };
}
