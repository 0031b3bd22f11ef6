import { fork, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { DaemonControl } from '../outputs/plugin.js';
import type { BusEvent, PluginInfo } from '../protocol/index.js';
import type { SettingValue } from '../plugin-api/index.js';
import { errorMessage, oneLine } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { pluginEnv } from './env.js';
import { CONTROL_METHODS, HEARTBEAT_INTERVAL_MS, type ControlMethod, type FromHost, type ToHost } from './ipc.js';
import type { LoadedPlugin } from './manifest.js';

/** The part of a ChildProcess the runner uses (unit tests pass a fake). */
export interface HostChild {
  readonly connected: boolean;
  readonly stdout?: Readable | null;
  readonly stderr?: Readable | null;
  send(msg: ToHost, callback: (err: Error | null) => void): boolean;
  kill(signal?: NodeJS.Signals): boolean;
  on(event: 'message', listener: (msg: FromHost) => void): unknown;
  on(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface RunnerTiming {
  /** A host that has not said it is alive for this long is hung: killed and restarted. */
  heartbeatTimeoutMs: number;
  /** The first heartbeat may take longer (Node and the TypeScript loader start). */
  startTimeoutMs: number;
  /** Restart delays double from here after each failure... */
  backoffBaseMs: number;
  /** ...up to here. */
  backoffMaxMs: number;
  /** A plugin active this long counts as healthy again: the next failure restarts after backoffBaseMs. */
  stableMs: number;
  /** Events written to a host but not yet taken by its pipe; beyond this new events are dropped. */
  maxInFlight: number;
}

export const DEFAULT_TIMING: RunnerTiming = {
  heartbeatTimeoutMs: 5_000, startTimeoutMs: 30_000, backoffBaseMs: 1_000, backoffMaxMs: 30_000, stableMs: 60_000, maxInFlight: 200,
};

const HOST_MAIN = fileURLToPath(new URL('./hostMain.ts', import.meta.url));

/** A real host process: Node with the TypeScript loader (plugins may be .ts), in the
 * plugin's folder, with an environment that carries none of the daemon's secrets. */
export function forkHost(plugin: LoadedPlugin): ChildProcess & HostChild {
  return fork(HOST_MAIN, [], {
    cwd: plugin.dir,
    env: pluginEnv(process.env),
    execArgv: ['--import', import.meta.resolve('tsx')],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'json',
    // Its own process group: Ctrl-C reaches the daemon, which stops its plugins in order.
    // A host whose daemon dies exits when the IPC channel closes.
    detached: true,
    windowsHide: true,
  });
}

/** What a plugin may pass to each control method; anything else is refused. */
const ARGS: Record<ControlMethod, z.ZodType<unknown[]>> = {
  status: z.tuple([]),
  ask: z.tuple([z.string().trim().min(1).max(500), z.string().trim().min(1).max(50).optional().nullable()]),
  pause: z.tuple([]),
  resume: z.tuple([]),
  setThreshold: z.tuple([z.number().min(0).max(1)]),
  recentLines: z.tuple([z.number().int().min(1).max(500)]),
};

/** Runs a control call for a plugin: only the narrow API, arguments checked. */
export function callControl(control: DaemonControl, pluginId: string, method: unknown, args: unknown): unknown {
  if (!CONTROL_METHODS.includes(method as ControlMethod)) throw new Error(`unknown method '${String(method)}'`);
  const m = method as ControlMethod;
  const parsed = ARGS[m].safeParse(args);
  if (!parsed.success) throw new Error(`bad arguments to ${m}: ${parsed.error.issues[0]!.message}`);
  const a = parsed.data;
  switch (m) {
    case 'status':
      return control.status();
    case 'ask':
      return control.ask(a[0] as string, (a[1] as string | null | undefined) ?? pluginId);
    case 'pause':
      control.pause();
      return control.status();
    case 'resume':
      control.resume();
      return control.status();
    case 'setThreshold':
      control.setThreshold(a[0] as number);
      return control.status();
    case 'recentLines':
      return control.recentLines(a[0] as number);
  }
}

type State = 'starting' | 'active' | 'waiting' | 'stopped';

const LOG_LINES_PER_S = 50;

/**
 * One plugin's host process, supervised: it is (re)started with backoff when it fails
 * to activate, exits, or stops its heartbeat (a blocked event loop). Nothing here is
 * awaited by the daemon's frame path: post() writes and returns, and a host that does
 * not keep up loses events instead of queueing them without bound.
 */
export class PluginRunner {
  private child: HostChild | undefined;
  private state: State = 'waiting';
  private incident: string | undefined;
  private failures = 0;
  private activeSince = 0;
  private lastBeat = 0;
  private beaten = false;
  private inFlight = 0;
  private dropping = false;
  private watchdog: ReturnType<typeof setInterval> | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private exited: (() => void) | undefined;
  private logWindow = { second: 0, lines: 0, dropped: 0 };
  private settledWaiters: Array<() => void> = [];
  /** Counters, for the shutdown summary, /api/plugins and tests. */
  readonly stats = { starts: 0, delivered: 0, dropped: 0 };

  constructor(
    private readonly plugin: LoadedPlugin,
    private readonly control: DaemonControl,
    private readonly logger: Logger,
    private readonly spawn: (plugin: LoadedPlugin) => HostChild = forkHost,
    private readonly timing: RunnerTiming = DEFAULT_TIMING,
  ) {}

  get id(): string {
    return this.plugin.manifest.id;
  }

  info(): PluginInfo {
    const { manifest, version } = this.plugin;
    return { id: this.id, version, state: this.state, starts: this.stats.starts, dropped: this.stats.dropped, commands: manifest.contributes?.commands ?? [] };
  }

  start(): void {
    this.state = 'starting';
    this.incident = undefined;
    this.beaten = false;
    this.lastBeat = Date.now();
    this.inFlight = 0;
    this.stats.starts++;
    const child = this.spawn(this.plugin);
    this.child = child;
    child.on('message', (msg) => this.child === child && this.onMessage(child, msg));
    child.on('exit', (code, signal) => this.child === child && this.onExit(code, signal));
    // A host that could not be spawned (or killed) is a failure like any other, never a throw here.
    child.on('error', (err) => {
      if (this.child !== child) return;
      this.incident ??= `host process failed: ${oneLine(errorMessage(err))}`;
      if (!child.connected) this.onExit(null, null);
    });
    this.pipeOutput(child.stdout, 'info');
    this.pipeOutput(child.stderr, 'warn');
    child.send({ kind: 'init', id: this.id, entry: this.plugin.entry, settings: this.plugin.settings }, () => {});
    this.watchdog ??= setInterval(() => this.checkHeartbeat(), HEARTBEAT_INTERVAL_MS);
  }

  /** Resolves when the current start has settled: the plugin is active, its start
   * failed (it waits to be restarted), or it was stopped. */
  settled(): Promise<void> {
    if (this.state !== 'starting') return Promise.resolve();
    return new Promise((resolve) => this.settledWaiters.push(resolve));
  }

  private settle(): void {
    for (const resolve of this.settledWaiters.splice(0)) resolve();
  }

  /** Fire and forget: the event reaches the plugin if its host is active and keeping up. */
  post(event: BusEvent, at: number): void {
    const child = this.child;
    if (this.state !== 'active' || !child?.connected) return;
    if (this.inFlight >= this.timing.maxInFlight) {
      this.stats.dropped++;
      if (!this.dropping) this.logger.warn(`plugin ${this.id}: not keeping up; dropping events`);
      this.dropping = true;
      return;
    }
    this.dropping = false;
    this.inFlight++;
    this.stats.delivered++;
    child.send({ kind: 'event', event, at }, () => {
      if (this.child === child) this.inFlight--;
    });
  }

  /** Runs a command the plugin contributes (fire and forget). */
  runCommand(command: string, args: SettingValue[] = []): boolean {
    if (this.state !== 'active' || !this.child?.connected) return false;
    this.child.send({ kind: 'command', command, args }, () => {});
    return true;
  }

  /** Asks the host to dispose its plugin, then kills it if it does not exit in time. */
  async stop(graceMs = 2_000): Promise<void> {
    const wasRunning = this.state === 'starting' || this.state === 'active';
    if (this.state !== 'stopped') this.logger.info(`plugin ${this.id}: summary ${JSON.stringify(this.stats)}`);
    this.state = 'stopped';
    this.settle();
    clearTimeout(this.restartTimer);
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    const child = this.child;
    if (!wasRunning || !child) return;
    const exited = new Promise<void>((res) => (this.exited = res));
    if (child.connected) child.send({ kind: 'shutdown' }, () => {});
    else child.kill('SIGKILL');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }

  /** What a host sends is the plugin's to shape (it can call process.send itself):
   * nothing it sends may throw here, in the daemon. */
  private onMessage(child: HostChild, msg: FromHost): void {
    if (typeof msg !== 'object' || msg === null) return;
    try {
      this.handle(child, msg);
    } catch (err) {
      this.logger.warn(`plugin ${this.id}: bad message from its host: ${oneLine(errorMessage(err))}`);
    }
  }

  private handle(child: HostChild, msg: FromHost): void {
    switch (msg.kind) {
      case 'heartbeat':
        this.lastBeat = Date.now();
        this.beaten = true;
        return;
      case 'activated':
        if (this.state !== 'starting') return;
        this.state = 'active';
        this.activeSince = Date.now();
        this.logger.info(`plugin ${this.id}: active${this.stats.starts > 1 ? ` (start ${this.stats.starts})` : ''}`);
        this.settle();
        return;
      case 'activateFailed':
        this.incident = `activate failed: ${oneLine(String(msg.error)).slice(0, 500)}`;
        return;
      case 'log':
        return this.log(msg.level === 'warn' || msg.level === 'error' ? msg.level : 'info', String(msg.message));
      case 'call':
        return this.onCall(child, msg.callId, msg.method, msg.args);
    }
  }

  private onCall(child: HostChild, callId: unknown, method: unknown, args: unknown): void {
    if (typeof callId !== 'number') return;
    let reply: ToHost;
    try {
      reply = { kind: 'result', callId, ok: true, value: callControl(this.control, this.id, method, args) };
    } catch (err) {
      reply = { kind: 'result', callId, ok: false, error: oneLine(errorMessage(err)) };
    }
    if (child.connected) child.send(reply, () => {});
  }

  /** A plugin's lines, at most LOG_LINES_PER_S a second: a chatty plugin cannot flood the log. */
  private log(level: 'info' | 'warn' | 'error', message: string): void {
    const second = Math.floor(Date.now() / 1000);
    if (second !== this.logWindow.second) {
      if (this.logWindow.dropped > 0) this.logger.warn(`plugin ${this.id}: ${this.logWindow.dropped} log lines dropped (over ${LOG_LINES_PER_S}/s)`);
      this.logWindow = { second, lines: 0, dropped: 0 };
    }
    if (++this.logWindow.lines > LOG_LINES_PER_S) return void this.logWindow.dropped++;
    this.logger[level](`plugin ${this.id}: ${oneLine(message).slice(0, 2000)}`);
  }

  private checkHeartbeat(): void {
    if (this.state !== 'starting' && this.state !== 'active') return;
    const limit = this.beaten ? this.timing.heartbeatTimeoutMs : this.timing.startTimeoutMs;
    const silent = Date.now() - this.lastBeat;
    if (silent <= limit || this.incident) return;
    this.incident = `not responding for ${(silent / 1000).toFixed(1)} s (event loop blocked); killed`;
    this.child?.kill('SIGKILL');
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.child = undefined;
    if (this.state === 'stopped') {
      this.exited?.();
      return;
    }
    const stable = this.state === 'active' && Date.now() - this.activeSince >= this.timing.stableMs;
    this.failures = stable ? 0 : this.failures;
    const delay = Math.min(this.timing.backoffBaseMs * 2 ** this.failures, this.timing.backoffMaxMs);
    this.failures++;
    const reason = this.incident ?? (signal ? `killed by ${signal}` : `exited with code ${code}`);
    this.state = 'waiting';
    this.settle();
    this.logger.error(`plugin ${this.id}: ${reason}; restarting in ${delay / 1000} s`);
    this.restartTimer = setTimeout(() => this.start(), delay);
  }

  private pipeOutput(stream: Readable | null | undefined, level: 'info' | 'warn'): void {
    if (!stream) return;
    createInterface({ input: stream }).on('line', (line) => this.log(level, line));
  }
}
