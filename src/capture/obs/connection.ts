import { OBSWebSocket, OBSWebSocketError, type OBSRequestTypes, type OBSResponseTypes } from 'obs-websocket-js';
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, UserError } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { ObsStatusEvent } from '../../protocol/index.js';

export interface ObsConnectionOptions {
  url: string;
  password?: string;
  logger?: Logger;
  onStatus?: (event: ObsStatusEvent) => void;
  requestTimeoutMs?: number;
}

/** obs-websocket's close code for a wrong password. */
const AUTHENTICATION_FAILED = 4009;
const AUTH_RETRY_MS = 5000;

/** Reconnect delays. A refused connect to a local OBS costs next to nothing, so it is
 * retried every 250 ms and frames resume within ~0.3 s of OBS listening again; a
 * remote OBS backs off to 5 s so a streaming PC is not hammered. */
export function reconnectBackoff(url: string): { first: number; max: number } {
  return { first: 250, max: isLoopback(url) ? 250 : 5000 };
}

function isLoopback(url: string): boolean {
  try {
    const host = new URL(url).hostname.toLowerCase();
    return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/**
 * One obs-websocket v5 connection that reconnects forever with capped backoff.
 * Every request has a timeout and is rejected when the socket drops, because
 * obs-websocket-js never settles a request that was in flight at that moment.
 */
export class ObsConnection {
  private readonly obs = new OBSWebSocket();
  private readonly inFlight = new Set<(err: Error) => void>();
  private closed = false;
  private connected = false;
  private waiters: Array<() => void> = [];
  programScene: string | undefined;

  constructor(private readonly options: ObsConnectionOptions) {
    const status = (e: ObsStatusEvent) => options.onStatus?.(e);
    this.obs.on('ConnectionClosed', (err) => {
      for (const reject of this.inFlight) reject(new Error(`OBS connection closed (${err.code})`));
      this.inFlight.clear();
      if (this.connected) status({ type: 'obsDisconnected', url: options.url, reason: err.message || `code ${err.code}` });
      this.connected = false;
    });
    this.obs.on('CurrentProgramSceneChanged', ({ sceneName }) => {
      this.programScene = sceneName;
      status({ type: 'obsProgramScene', scene: sceneName });
    });
    this.obs.on('StreamStateChanged', ({ outputActive }) => status({ type: 'obsOutput', output: 'stream', active: outputActive }));
    this.obs.on('RecordStateChanged', ({ outputActive }) => status({ type: 'obsOutput', output: 'record', active: outputActive }));
  }

  /** Connects, then keeps reconnecting in the background. Rejects only on a wrong
   * password (a config error no retry can fix). */
  async start(): Promise<void> {
    await this.connectOnce(true);
    void this.reconnectLoop();
  }

  private async connectOnce(first: boolean): Promise<boolean> {
    const log = this.options.logger ?? silentLogger;
    try {
      await this.obs.connect(this.options.url, this.options.password);
      this.connected = true;
      const { currentProgramSceneName } = await this.call('GetCurrentProgramScene');
      this.programScene = currentProgramSceneName;
      this.options.onStatus?.({ type: 'obsConnected', url: this.options.url });
      log.info(`connected to OBS at ${this.options.url}, program scene '${currentProgramSceneName}'`);
      for (const w of this.waiters.splice(0)) w();
      return true;
    } catch (err) {
      const code = err instanceof OBSWebSocketError ? err.code : 0;
      if (code === AUTHENTICATION_FAILED) throw new UserError(`OBS at ${this.options.url} rejected the password (check --obs-password / obs.password)`);
      if (first) log.warn(`OBS at ${this.options.url} is not reachable yet (${errorMessage(err) || code}); retrying`);
      return false;
    }
  }

  private async reconnectLoop(): Promise<void> {
    const delays = reconnectBackoff(this.options.url);
    let backoff = delays.first;
    while (!this.closed) {
      if (this.connected) {
        await sleep(100);
        backoff = delays.first;
        continue;
      }
      try {
        if (!(await this.connectOnce(false))) {
          await sleep(backoff);
          backoff = Math.min(delays.max, backoff * 2);
        }
      } catch (err) {
        (this.options.logger ?? silentLogger).error(errorMessage(err));
        await sleep(AUTH_RETRY_MS); // a password changed under us: retrying fast only floods the log
      }
    }
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Resolves once connected (at once if already). */
  whenConnected(): Promise<void> {
    return this.connected ? Promise.resolve() : new Promise((res) => this.waiters.push(res));
  }

  async call<T extends keyof OBSRequestTypes>(type: T, data?: OBSRequestTypes[T], timeoutMs = this.options.requestTimeoutMs ?? 5000): Promise<OBSResponseTypes[T]> {
    let reject!: (err: Error) => void;
    const guard = new Promise<never>((_, rej) => (reject = rej));
    this.inFlight.add(reject);
    const timer = setTimeout(() => reject(new Error(`OBS request ${type} timed out after ${timeoutMs} ms`)), timeoutMs);
    try {
      return await Promise.race([this.obs.call(type, data), guard]);
    } finally {
      clearTimeout(timer);
      this.inFlight.delete(reject);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w();
    await this.obs.disconnect().catch(() => undefined);
  }
}
