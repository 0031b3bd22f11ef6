import { describe, expect, it } from 'vitest';
import { EventBus, type BusEvent } from '../src/bus/index.js';
import { activateAll, ProvidedSlot, type OutputContext, type OutputPlugin } from '../src/outputs/plugin.js';
import { transcriptLine } from '../src/outputs/store/storeOutput.js';
import { silentLogger, type Logger } from '../src/util/log.js';

const say: BusEvent = { type: 'say', t: 1.5, text: 'Goal!', trigger: 'self', tokenIds: [1, 2] };

describe('event bus', () => {
  it('delivers in subscription order, typed by event type, until disposed', () => {
    const bus = new EventBus(silentLogger);
    const seen: string[] = [];
    const a = bus.subscribe((e) => seen.push(`a:${e.type}`));
    bus.on('say', (e) => seen.push(`b:${e.text}`));
    bus.publish(say);
    bus.publish({ type: 'paused', t: 2 });
    a.dispose();
    bus.publish(say);
    expect(seen).toEqual(['a:say', 'b:Goal!', 'a:paused', 'b:Goal!']);
  });

  it("a critical listener's failure stops the event before later listeners and reaches the publisher", () => {
    const bus = new EventBus(silentLogger);
    const later: string[] = [];
    bus.subscribe(() => {
      throw new Error('disk full');
    }, { critical: true });
    bus.subscribe((e) => later.push(e.type));
    expect(() => bus.publish(say)).toThrow('disk full');
    expect(later).toEqual([]);
  });

  it("an ordinary listener's failure is logged and the others still run", () => {
    const errors: string[] = [];
    const logger: Logger = { ...silentLogger, error: (m) => errors.push(m) };
    const bus = new EventBus(logger);
    const later: string[] = [];
    bus.subscribe(() => {
      throw new Error('socket gone');
    });
    bus.subscribe((e) => later.push(e.type));
    bus.publish(say);
    expect(later).toEqual(['say']);
    expect(errors).toEqual(['output failed on say: socket gone']);
  });
});

describe('plugin lifecycle', () => {
  const plugin = (id: string, log: string[], fail = false): OutputPlugin => ({
    id,
    activate: ({ bus }) => {
      if (fail) throw new Error(`${id} cannot start`);
      log.push(`activate ${id}`);
      return [bus.subscribe(() => log.push(`${id} got event`)), { dispose: () => void log.push(`dispose ${id}`) }];
    },
  });
  const ctx = (bus: EventBus): OutputContext => {
    const nothing = { dispose() {} };
    return { bus, logger: silentLogger, control: {} as never, provideModeration: () => nothing, provideTranscript: () => nothing, provideChatStatus: () => nothing, providePlugins: () => nothing };
  };

  it('activates in order and disposes in reverse order', async () => {
    const log: string[] = [];
    const bus = new EventBus(silentLogger);
    const all = await activateAll([plugin('store', log), plugin('server', log)], ctx(bus));
    bus.publish(say);
    await all.dispose();
    bus.publish(say);
    expect(log).toEqual(['activate store', 'activate server', 'store got event', 'server got event', 'dispose server', 'dispose store']);
    expect(bus.listenerCount).toBe(0);
  });

  it('undoes what was activated when a later plugin fails', async () => {
    const log: string[] = [];
    const bus = new EventBus(silentLogger);
    await expect(activateAll([plugin('store', log), plugin('server', log, true)], ctx(bus))).rejects.toThrow('server cannot start');
    expect(log).toEqual(['activate store', 'dispose store']);
    expect(bus.listenerCount).toBe(0);
  });
});

describe('provided slots (ctx.provideModeration, ctx.provideTranscript)', () => {
  it('hold what an output provides until its Disposable is disposed; a stale dispose leaves a newer provider', () => {
    const slot = new ProvidedSlot<string>();
    expect(slot.current).toBeUndefined();
    const first = slot.provide('first');
    expect(slot.current).toBe('first');
    const second = slot.provide('second');
    first.dispose();
    expect(slot.current).toBe('second');
    second.dispose();
    expect(slot.current).toBeUndefined();
  });
});

describe('transcript rows', () => {
  it('stores questions when queued and finished lines, not partial speech', () => {
    expect(transcriptLine(say, 3, 1000)).toEqual({ sessionId: 3, t: 1.5, wallMs: 1000, role: 'assistant', text: 'Goal!', trigger: 'self', asker: null, questionId: null });
    expect(transcriptLine({ type: 'questionQueued', t: 2, id: 'q1', text: 'Who?', asker: 'Al' }, 3, 5)).toMatchObject({ role: 'user', text: 'Who?', asker: 'Al', questionId: 'q1' });
    expect(transcriptLine({ type: 'speechDelta', t: 2, text: 'Go' }, 3, 5)).toBeUndefined();
  });
});
