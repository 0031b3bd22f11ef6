/** The daemon's control websocket (`/ws/control`): every bus event and status as it
 * happens, reconnecting with backoff while the daemon is away. */
import WebSocket from 'ws';
import type { ServerMessage } from '../../src/protocol/index.js';

const MAX_DELAY_MS = 10_000;

export class LiveFeed {
  private ws: WebSocket | undefined;
  private closed = false;
  private delayMs = 500;
  private timer: ReturnType<typeof setTimeout> | undefined;

  /** `target()` gives the daemon's base URL and token at each attempt (none: try later). */
  constructor(
    private readonly target: () => Promise<{ base: string; token: string | undefined }>,
    private readonly onMessage: (message: ServerMessage) => void,
    private readonly onOpen: () => void,
  ) {}

  start(): void {
    void this.connect();
  }

  /** Drops the connection and connects again now (a new daemon, a new token). */
  restart(): void {
    this.delayMs = 500;
    this.ws?.terminate();
    if (!this.ws) this.retryNow();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.ws?.terminate();
  }

  private retryNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.connect();
  }

  private async connect(): Promise<void> {
    if (this.closed || this.ws) return;
    const { base, token } = await this.target();
    if (!token) return this.later();
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws/control?token=${encodeURIComponent(token)}`);
    this.ws = ws;
    ws.on('open', () => {
      this.delayMs = 500;
      this.onOpen();
    });
    ws.on('message', (data) => {
      try {
        this.onMessage(JSON.parse(String(data)) as ServerMessage);
      } catch {
        // not a message of ours: ignored
      }
    });
    ws.on('error', () => undefined); // 'close' follows
    ws.on('close', () => {
      if (this.ws === ws) this.ws = undefined;
      this.later();
    });
  }

  private later(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => this.retryNow(), this.delayMs);
    this.delayMs = Math.min(this.delayMs * 2, MAX_DELAY_MS);
  }
}
