/**
 * The plugin host: one child process per plugin (VS Code's extension host). It loads
 * the plugin, hands it a PluginContext whose calls travel over IPC, feeds it the bus's
 * events and says it is alive every HEARTBEAT_INTERVAL_MS; a plugin that blocks this
 * event loop stops the heartbeat and the daemon kills and restarts the host.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { BusEvent, BusEventOf, BusEventType, CocasterPlugin, Disposable, PluginContext, PluginListener, SettingValue } from '../plugin-api/index.js';
import { errorMessage, oneLine } from '../util/errors.js';
import { HEARTBEAT_INTERVAL_MS, type ControlMethod, type FromHost, type ToHost } from './ipc.js';

const send = (msg: FromHost): void => {
  if (process.connected) process.send!(msg);
};

const listeners = new Set<PluginListener>();
const commands = new Map<string, (...args: SettingValue[]) => void | Promise<void>>();
const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
let nextCall = 1;
let disposables: Disposable[] = [];
let plugin: CocasterPlugin | undefined;

function call<T>(method: ControlMethod, ...args: unknown[]): Promise<T> {
  const callId = nextCall++;
  return new Promise<T>((resolve, reject) => {
    pending.set(callId, { resolve: (v) => resolve(v as T), reject });
    send({ kind: 'call', callId, method, args });
  });
}

const log = (level: 'info' | 'warn' | 'error') => (message: string) => send({ kind: 'log', level, message: String(message) });
const disposable = (f: () => void): Disposable => ({ dispose: f });

function context(id: string, settings: Record<string, SettingValue>): PluginContext {
  const onAny = (listener: PluginListener): Disposable => {
    listeners.add(listener);
    return disposable(() => void listeners.delete(listener));
  };
  return {
    id,
    settings: Object.freeze({ ...settings }),
    log: { info: log('info'), warn: log('warn'), error: log('error') },
    control: {
      status: () => call('status'),
      ask: (text, asker) => call('ask', text, asker),
      pause: () => call('pause'),
      resume: () => call('resume'),
      setThreshold: (threshold) => call('setThreshold', threshold),
      recentLines: (limit) => call('recentLines', limit),
    },
    on: <K extends BusEventType>(type: K, listener: PluginListener<BusEventOf<K>>) =>
      onAny((event, at) => {
        if (event.type === type) listener(event as BusEventOf<K>, at);
      }),
    onAny,
    registerCommand: (command, handler) => {
      commands.set(command, handler);
      return disposable(() => void commands.delete(command));
    },
  };
}

/** The plugin module's default export, or its named activate/deactivate. */
function pluginOf(mod: Record<string, unknown>): CocasterPlugin {
  const candidate = (mod.default && typeof (mod.default as CocasterPlugin).activate === 'function' ? mod.default : mod) as Partial<CocasterPlugin>;
  if (typeof candidate.activate !== 'function') throw new Error('the module exports no activate() (default export or named)');
  return candidate as CocasterPlugin;
}

async function init(id: string, entry: string, settings: Record<string, SettingValue>): Promise<void> {
  try {
    plugin = pluginOf((await import(pathToFileURL(entry).href)) as Record<string, unknown>);
    disposables = [...(await plugin.activate(context(id, settings)))];
    send({ kind: 'activated' });
  } catch (err) {
    // Exit once the report is written, so the daemon reads it before the exit.
    const report: FromHost = { kind: 'activateFailed', error: oneLine(errorMessage(err)) };
    if (process.connected) process.send!(report, () => process.exit(1));
    else process.exit(1);
  }
}

function dispatch(event: BusEvent, at: number): void {
  for (const listener of [...listeners]) {
    try {
      listener(event, at);
    } catch (err) {
      send({ kind: 'log', level: 'error', message: `listener failed on ${event.type}: ${oneLine(errorMessage(err))}` });
    }
  }
}

async function runCommand(command: string, args: SettingValue[]): Promise<void> {
  const handler = commands.get(command);
  if (!handler) return send({ kind: 'log', level: 'warn', message: `no handler registered for command '${command}'` });
  try {
    await handler(...args);
  } catch (err) {
    send({ kind: 'log', level: 'error', message: `command '${command}' failed: ${oneLine(errorMessage(err))}` });
  }
}

async function shutdown(): Promise<void> {
  for (const d of disposables.splice(0).reverse()) {
    try {
      await d.dispose();
    } catch (err) {
      send({ kind: 'log', level: 'warn', message: `dispose failed: ${oneLine(errorMessage(err))}` });
    }
  }
  await plugin?.deactivate?.();
  process.exit(0);
}

process.on('message', (msg: ToHost) => {
  switch (msg.kind) {
    case 'init':
      return void init(msg.id, msg.entry, msg.settings);
    case 'event':
      return dispatch(msg.event, msg.at);
    case 'result': {
      const p = pending.get(msg.callId);
      pending.delete(msg.callId);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(new Error(msg.error));
      return;
    }
    case 'command':
      return void runCommand(msg.command, msg.args);
    case 'shutdown':
      return void shutdown();
  }
});
// The daemon went away: nothing left to serve.
process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => {
  send({ kind: 'log', level: 'error', message: `uncaught: ${oneLine(errorMessage(err))}` });
  process.exit(1);
});
process.on('unhandledRejection', (err) => send({ kind: 'log', level: 'error', message: `unhandled rejection: ${oneLine(errorMessage(err))}` }));
// A host whose plugin blocks the event loop cannot notice its daemon dying (no
// 'disconnect'); a thread of its own can, and ends the process rather than leave it spinning.
new Worker(
  `const { workerData } = require('node:worker_threads');
   setInterval(() => { try { process.kill(workerData.daemon, 0); } catch { process.kill(process.pid, 'SIGKILL'); } }, 1000);`,
  { eval: true, workerData: { daemon: process.ppid }, execArgv: [] },
).unref();
setInterval(() => send({ kind: 'heartbeat' }), HEARTBEAT_INTERVAL_MS);
send({ kind: 'heartbeat' });
