import { EventEmitter } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { DaemonControl } from '../../src/outputs/plugin.js';
import type { DaemonStatus } from '../../src/protocol/index.js';
import type { FromHost, ToHost } from '../../src/plugins/ipc.js';
import type { LoadedPlugin } from '../../src/plugins/manifest.js';
import { callControl, PluginRunner, type HostChild, type RunnerTiming } from '../../src/plugins/pluginProcess.js';
import type { Logger } from '../../src/util/log.js';
import { EventBus } from '../../src/bus/index.js';
import { pluginHostOutput } from '../../src/plugins/pluginHost.js';

/** A host process stand-in: records what it is sent and lets the test speak for it. */
class FakeChild extends EventEmitter implements HostChild {
  connected = true;
  sent: ToHost[] = [];
  killed: NodeJS.Signals[] = [];
  /** Writes the pipe has not taken yet (a stalled host): their callbacks wait here. */
  stalled = false;
  private waiting: Array<() => void> = [];

  send(msg: ToHost, callback: (err: Error | null) => void): boolean {
    this.sent.push(msg);
    if (this.stalled) this.waiting.push(() => callback(null));
    else queueMicrotask(() => callback(null));
    return true;
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.killed.push(signal);
    this.exit(null, signal);
    return true;
  }
  say(msg: FromHost): void {
    this.emit('message', msg);
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    if (!this.connected) return;
    this.connected = false;
    this.emit('exit', code, signal);
  }
  drain(): void {
    for (const f of this.waiting.splice(0)) f();
  }
}

const TIMING: RunnerTiming = { heartbeatTimeoutMs: 5_000, startTimeoutMs: 30_000, backoffBaseMs: 1_000, backoffMaxMs: 8_000, stableMs: 60_000, maxInFlight: 3 };
const plugin: LoadedPlugin = { manifest: { id: 'p', engine: '*' }, version: '1.0.0', dir: '/x', entry: '/x/index.js', settings: { a: 1 } };
const status = { paused: false, threshold: 0.5 } as DaemonStatus;

function control(): DaemonControl & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    questions: undefined,
    status: () => status,
    pause: () => void calls.push('pause'),
    resume: () => void calls.push('resume'),
    setThreshold: (x) => void calls.push(`threshold ${x}`),
    ask: (text, asker) => (calls.push(`ask ${text} ${asker}`), { id: 'q1', t: 1 }),
    recentLines: () => [],
  };
}

function logger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const at = (lvl: string) => (m: string) => void lines.push(`${lvl}: ${m}`);
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function setup() {
  const children: FakeChild[] = [];
  const log = logger();
  const ctl = control();
  const runner = new PluginRunner(plugin, ctl, log, () => {
    const c = new FakeChild();
    children.push(c);
    return c;
  }, TIMING);
  const last = () => children[children.length - 1]!;
  return { children, log, ctl, runner, last };
}

const frame = { type: 'frame', t: 1, pInterval: 0.9, decision: 'silent' } as const;
const errors = (log: { lines: string[] }) => log.lines.filter((l) => l.startsWith('error:'));

describe('PluginRunner (fake clock, fake host)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it('sends init with the id, entry and settings, and events only once active', () => {
    const { runner, last } = setup();
    runner.start();
    expect(last().sent[0]).toEqual({ kind: 'init', id: 'p', entry: '/x/index.js', settings: { a: 1 } });
    runner.post(frame, 1);
    expect(last().sent).toHaveLength(1);
    last().say({ kind: 'activated' });
    runner.post(frame, 2);
    expect(last().sent[1]).toEqual({ kind: 'event', event: frame, at: 2 });
  });

  it('restarts a failing plugin with doubling delays, capped, one error line per failure', async () => {
    const { runner, last, log, children } = setup();
    runner.start();
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      last().say({ kind: 'activateFailed', error: 'boom' });
      last().exit(1);
      const before = children.length;
      const m = /restarting in (\d+) s$/.exec(errors(log).at(-1)!);
      delays.push(Number(m![1]));
      await vi.advanceTimersByTimeAsync(Number(m![1]) * 1000 - 1);
      expect(children).toHaveLength(before); // not a millisecond early
      await vi.advanceTimersByTimeAsync(1);
      expect(children).toHaveLength(before + 1);
    }
    expect(delays).toEqual([1, 2, 4, 8, 8, 8]);
    expect(errors(log)).toHaveLength(6);
    expect(errors(log)[0]).toBe('error: plugin p: activate failed: boom; restarting in 1 s');
  });

  it('a plugin that ran for stableMs starts again from the base delay', async () => {
    const { runner, last, log } = setup();
    runner.start();
    last().exit(3);
    await vi.advanceTimersByTimeAsync(1_000);
    last().exit(3);
    await vi.advanceTimersByTimeAsync(2_000);
    last().say({ kind: 'activated' });
    // Heartbeats keep the watchdog quiet while the plugin runs a minute.
    for (let t = 0; t < 60; t++) {
      last().say({ kind: 'heartbeat' });
      await vi.advanceTimersByTimeAsync(1_000);
    }
    last().exit(3);
    expect(errors(log).map((l) => /in (\d+) s/.exec(l)![1])).toEqual(['1', '2', '1']);
    expect(errors(log)[2]).toBe('error: plugin p: exited with code 3; restarting in 1 s');
  });

  it('kills a host whose heartbeat stops (a blocked event loop) and restarts it', async () => {
    const { runner, last, log, children } = setup();
    runner.start();
    last().say({ kind: 'heartbeat' });
    last().say({ kind: 'activated' });
    await vi.advanceTimersByTimeAsync(4_900);
    expect(last().killed).toEqual([]);
    await vi.advanceTimersByTimeAsync(400);
    expect(children[0]!.killed).toEqual(['SIGKILL']);
    expect(errors(log)).toEqual([expect.stringMatching(/^error: plugin p: not responding for 5\.\d s \(event loop blocked\); killed; restarting in 1 s$/)]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(children).toHaveLength(2);
  });

  it('gives a starting host startTimeoutMs for its first heartbeat', async () => {
    const { runner, last } = setup();
    runner.start();
    await vi.advanceTimersByTimeAsync(29_000);
    expect(last().killed).toEqual([]);
    await vi.advanceTimersByTimeAsync(1_500);
    expect(last().killed).toEqual(['SIGKILL']);
  });

  it('never queues without bound: a host that does not take its events loses them, counted, one warning', async () => {
    const { runner, last, log } = setup();
    runner.start();
    last().say({ kind: 'activated' });
    last().stalled = true;
    for (let i = 0; i < 10; i++) runner.post(frame, i);
    expect(last().sent.filter((m) => m.kind === 'event')).toHaveLength(3);
    expect(runner.stats).toMatchObject({ delivered: 3, dropped: 7 });
    expect(log.lines.filter((l) => l.startsWith('warn:'))).toEqual(['warn: plugin p: not keeping up; dropping events']);
    last().drain();
    await vi.advanceTimersByTimeAsync(0);
    runner.post(frame, 11);
    expect(runner.stats.delivered).toBe(4);
  });

  it('answers control calls through the narrow API, and refuses bad ones without throwing', () => {
    const { runner, last, ctl } = setup();
    runner.start();
    last().say({ kind: 'call', callId: 1, method: 'ask', args: ['Who leads?'] });
    last().say({ kind: 'call', callId: 2, method: 'setThreshold', args: [7] });
    last().say({ kind: 'call', callId: 3, method: 'tokens' as never, args: [] });
    last().say({ kind: 'call', callId: 4, method: 'pause', args: [] });
    expect(ctl.calls).toEqual(['ask Who leads? p', 'pause']);
    const results = last().sent.filter((m) => m.kind === 'result');
    expect(results).toEqual([
      { kind: 'result', callId: 1, ok: true, value: { id: 'q1', t: 1 } },
      { kind: 'result', callId: 2, ok: false, error: expect.stringMatching(/^bad arguments to setThreshold: /) },
      { kind: 'result', callId: 3, ok: false, error: "unknown method 'tokens'" },
      { kind: 'result', callId: 4, ok: true, value: status },
    ]);
  });

  it('logs the plugin lines with its id, on one line each', () => {
    const { runner, last, log } = setup();
    runner.start();
    last().say({ kind: 'log', level: 'warn', message: 'two\nlines' });
    expect(log.lines).toEqual(['warn: plugin p: two lines']);
  });

  it('a host that sends garbage cannot throw in the daemon', () => {
    const { runner, last, log } = setup();
    runner.start();
    for (const junk of [null, 7, 'x', { kind: 'call' }, { kind: 'log' }, { kind: 'activateFailed', error: { toString: null } }]) {
      expect(() => last().emit('message', junk)).not.toThrow();
    }
    expect(log.lines.every((l) => !l.startsWith('error:'))).toBe(true);
  });

  it('caps a chatty plugin at 50 log lines a second and says how many it dropped', async () => {
    const { runner, last, log } = setup();
    runner.start();
    await vi.advanceTimersByTimeAsync(1_000 - (Date.now() % 1_000));
    for (let i = 0; i < 80; i++) last().say({ kind: 'log', level: 'info', message: `line ${i}` });
    expect(log.lines).toHaveLength(50);
    await vi.advanceTimersByTimeAsync(1_000);
    last().say({ kind: 'log', level: 'info', message: 'next second' });
    expect(log.lines.slice(50)).toEqual(['warn: plugin p: 30 log lines dropped (over 50/s)', 'info: plugin p: next second']);
  });

  it('runs a contributed command on an active host only', () => {
    const { runner, last } = setup();
    runner.start();
    expect(runner.runCommand('p.hello')).toBe(false);
    last().say({ kind: 'activated' });
    expect(runner.runCommand('p.hello', ['x'])).toBe(true);
    expect(last().sent.at(-1)).toEqual({ kind: 'command', command: 'p.hello', args: ['x'] });
  });

  it('stop() asks the host to shut down and does not restart it', async () => {
    const { runner, last, children } = setup();
    runner.start();
    last().say({ kind: 'activated' });
    const stopped = runner.stop();
    expect(last().sent.at(-1)).toEqual({ kind: 'shutdown' });
    last().exit(0);
    await stopped;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(children).toHaveLength(1);
  });

  it('a host that cannot be spawned is a failure like any other: one line, restarted with backoff', async () => {
    const { runner, last, log, children } = setup();
    runner.start();
    last().connected = false;
    last().emit('error', new Error('spawn ENOENT'));
    expect(errors(log)).toEqual(['error: plugin p: host process failed: spawn ENOENT; restarting in 1 s']);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(children).toHaveLength(2);
  });

  it('stop() logs a summary of the plugin run', async () => {
    const { runner, last, log } = setup();
    runner.start();
    last().say({ kind: 'activated' });
    runner.post(frame, 1);
    const stopped = runner.stop();
    last().exit(0);
    await stopped;
    expect(log.lines.at(-1)).toBe('info: plugin p: summary {"starts":1,"delivered":1,"dropped":0}');
  });

  it('stop() kills a host that ignores the shutdown', async () => {
    const { runner, last } = setup();
    runner.start();
    last().say({ kind: 'activated' });
    const stopped = runner.stop(2_000);
    await vi.advanceTimersByTimeAsync(2_000);
    await stopped;
    expect(last().killed).toEqual(['SIGKILL']);
  });
});

describe('waiting for the first start (cocaster run)', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  const flag = (p: Promise<unknown>) => {
    const state = { done: false };
    void p.then(() => (state.done = true));
    return state;
  };

  it('settled() resolves when the plugin is active, or when its start fails', async () => {
    const { runner, last } = setup();
    runner.start();
    const active = flag(runner.settled());
    await vi.advanceTimersByTimeAsync(100);
    expect(active.done).toBe(false);
    last().say({ kind: 'activated' });
    await vi.advanceTimersByTimeAsync(0);
    expect(active.done).toBe(true);

    const other = setup();
    other.runner.start();
    const failed = flag(other.runner.settled());
    other.last().say({ kind: 'activateFailed', error: 'boom' });
    other.last().exit(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(failed.done).toBe(true);
  });

  it('the plugin output waits for each first start, at most firstStartMs, and names a plugin it gave up on', async () => {
    const log = logger();
    const children: FakeChild[] = [];
    const output = pluginHostOutput([plugin, { ...plugin, manifest: { id: 'q', engine: '*' } }], {
      spawn: () => (children.push(new FakeChild()), children.at(-1)!),
      timing: TIMING,
      awaitFirstStart: true,
      firstStartMs: 3_000,
    });
    const bus = new EventBus(log);
    const noop = () => ({ dispose: () => undefined });
    const activation = flag(Promise.resolve(output.activate({ bus, control: control(), logger: log, provideModeration: noop, provideTranscript: noop, provideChatStatus: noop, providePlugins: noop })));
    children[0]!.say({ kind: 'activated' }); // p is up; q's activate never returns
    children[1]!.say({ kind: 'heartbeat' });
    await vi.advanceTimersByTimeAsync(2_999);
    expect(activation.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(activation.done).toBe(true);
    expect(log.lines.filter((l) => l.startsWith('warn:'))).toEqual(['warn: plugin q: not active after 3 s; the stream starts without waiting for it']);
  });
});

describe('callControl', () => {
  it('uses the plugin id as the asker unless the plugin names one', () => {
    const ctl = control();
    callControl(ctl, 'p', 'ask', ['q?', 'viewer42']);
    callControl(ctl, 'p', 'ask', ['q2?']);
    expect(ctl.calls).toEqual(['ask q? viewer42', 'ask q2? p']);
  });

  it('refuses an empty question and a non-array argument list', () => {
    expect(() => callControl(control(), 'p', 'ask', [''])).toThrow(/bad arguments to ask/);
    expect(() => callControl(control(), 'p', 'status', 'x')).toThrow(/bad arguments to status/);
  });
});
