import express, { type ErrorRequestHandler, type Express } from 'express';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tokens } from '../../auth/tokens.js';
import type { DaemonControl } from '../plugin.js';
import { UserError } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { apiRouter } from './api.js';
import { allowedHosts, checkHostAndOrigin } from './guard.js';
import { Sockets } from './sockets.js';

export const OVERLAY_DIST = resolve(fileURLToPath(import.meta.url), '../../../../overlay/dist');

export interface ServerOptions {
  host: string;
  port: number;
  tokens: Tokens;
  control: DaemonControl;
  logger: Logger;
  staticDir?: string;
}

export interface RunningServer {
  sockets: Sockets;
  /** host:port actually bound (port 0 picks one). */
  address: { host: string; port: number };
  close(): Promise<void>;
}

function buildApp(opts: ServerOptions, hosts: () => Set<string>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use((req, res, next) => {
    res.set({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' });
    const guard = checkHostAndOrigin(req, hosts());
    if (!guard.ok) return void res.status(guard.status).json({ error: guard.reason });
    next();
  });
  app.use('/api', apiRouter(opts.control, opts.tokens));
  const dist = opts.staticDir ?? OVERLAY_DIST;
  if (!existsSync(join(dist, 'overlay.html'))) opts.logger.warn(`overlay not built (${dist}): run npm run build -w @cocaster/overlay`);
  const page = (file: string) => (_req: express.Request, res: express.Response) => res.sendFile(join(dist, file));
  app.get('/', page('panel.html'));
  app.get(['/overlay', '/overlay/'], page('overlay.html'));
  app.use('/assets', express.static(join(dist, 'assets'), { index: false, immutable: true, maxAge: '1d' }));
  app.use((_req, res) => void res.status(404).json({ error: 'not found' }));
  // One line, no stack, no echo of the request (it may carry a token).
  const onError: ErrorRequestHandler = (err: { status?: number; type?: string }, _req, res, _next) => {
    const status = typeof err.status === 'number' && err.status >= 400 && err.status < 500 ? err.status : 500;
    res.status(status).json({ error: status === 500 ? 'internal error' : (err.type ?? 'bad request') });
  };
  app.use(onError);
  return app;
}

export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  let hosts = allowedHosts(opts.host, opts.port);
  const sockets = new Sockets(opts.tokens, () => hosts, opts.logger, () => opts.control.status());
  const server: Server = createServer(buildApp(opts, () => hosts));
  server.on('upgrade', (req, socket, head) => sockets.handleUpgrade(req, socket, head));
  await new Promise<void>((res, rej) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      rej(err.code === 'EADDRINUSE' || err.code === 'EADDRNOTAVAIL' || err.code === 'EACCES' ? new UserError(`cannot listen on ${opts.host}:${opts.port}: ${err.code}`) : err),
    );
    server.listen(opts.port, opts.host, () => res());
  });
  const port = (server.address() as AddressInfo).port;
  hosts = allowedHosts(opts.host, port);
  return {
    sockets,
    address: { host: opts.host, port },
    close: async () => {
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
