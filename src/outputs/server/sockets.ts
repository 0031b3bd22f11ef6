import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { BusEvent, DaemonStatus, ServerMessage } from '../../protocol/index.js';
import { authorize, type Role, type Tokens } from '../../auth/tokens.js';
import type { Logger } from '../../util/log.js';
import { checkHostAndOrigin, queryToken } from './guard.js';

/** A client that does not read is dropped rather than buffered without bound. */
const MAX_BUFFERED = 1 << 20;

const PATHS: Record<string, Role> = { '/ws/overlay': 'overlay', '/ws/control': 'control' };

/** The two websockets: /ws/overlay (overlay or control token) gets what viewers
 * see; /ws/control (control token) gets everything, frame decisions and status too. */
export class Sockets {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 });
  private readonly clients = new Map<WebSocket, Role>();

  constructor(
    private readonly tokens: Tokens,
    private readonly hosts: () => Set<string>,
    private readonly logger: Logger,
    private readonly status: () => DaemonStatus,
  ) {}

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const needed = PATHS[path];
    const guard = checkHostAndOrigin(req, this.hosts());
    const auth = needed ? authorize(queryToken(req), this.tokens, needed) : undefined;
    const refusal = !needed ? { status: 404, reason: 'no such socket' } : !guard.ok ? guard : !auth?.ok ? auth : undefined;
    if (refusal && 'status' in refusal) {
      this.logger.debug(`websocket refused: ${refusal.reason}`);
      socket.end(`HTTP/1.1 ${refusal.status} ${refusal.reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.add(ws, needed!));
  }

  private add(ws: WebSocket, role: Role): void {
    this.clients.set(ws, role);
    ws.on('close', () => this.clients.delete(ws));
    ws.on('error', () => this.clients.delete(ws));
    // Clients only listen; commands go through the HTTP API.
    ws.on('message', () => ws.close(1003, 'this socket is read-only'));
    this.send(ws, { kind: 'status', status: this.status() });
  }

  /** Frame decisions go to the control panel only: the overlay has no use for them. */
  broadcastEvent(event: BusEvent, at: number): void {
    const message = JSON.stringify({ kind: 'event', at, event } satisfies ServerMessage);
    for (const [ws, role] of this.clients) {
      if (event.type === 'frame' && role !== 'control') continue;
      this.sendRaw(ws, message);
    }
  }

  broadcastStatus(): void {
    const message = JSON.stringify({ kind: 'status', status: this.status() } satisfies ServerMessage);
    for (const ws of this.clients.keys()) this.sendRaw(ws, message);
  }

  private send(ws: WebSocket, message: ServerMessage): void {
    this.sendRaw(ws, JSON.stringify(message));
  }

  private sendRaw(ws: WebSocket, data: string): void {
    if (ws.readyState !== ws.OPEN) return;
    if (ws.bufferedAmount > MAX_BUFFERED) {
      ws.terminate();
      return;
    }
    ws.send(data);
  }

  get clientCount(): number {
    return this.clients.size;
  }

  close(): void {
    for (const ws of this.clients.keys()) ws.close(1001, 'daemon shutting down');
    this.wss.close();
  }
}
