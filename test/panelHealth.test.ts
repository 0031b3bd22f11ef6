import { describe, expect, it } from 'vitest';
import { healthItems, newStatusHistory, recordStatus, sparkPoints } from '../overlay/src/panel/health.js';
import type { DaemonStatus } from '../src/protocol/index.js';

/** The control panel's health view: what is shown, its colour, and the reason. */

const status = (over: Partial<DaemonStatus> = {}): DaemonStatus => ({
  source: 'demo', sourceState: 'running', model: 'm', executionProvider: 'cpu', fps: 2, latencyMs: 300, threshold: 0.5,
  paused: false, sessionId: 1, videoTime: 10, targetFps: 2, framesDropped: 0, sourceError: null, obs: null, pauseScene: null, chat: null, ...over,
});
const item = (s: DaemonStatus | undefined, key: string, link: 'open' | 'closed' | 'connecting' = 'open', h = newStatusHistory()) =>
  healthItems(s, link, h).find((i) => i.key === key);

describe('panel health', () => {
  it('is all green on a healthy run, with no OBS or chat rows when unused', () => {
    const items = healthItems(status(), 'open', newStatusHistory());
    expect(items.filter((i) => i.level !== 'info').every((i) => i.level === 'ok')).toBe(true);
    expect(items.map((i) => i.key)).toEqual(['link', 'state', 'source', 'fps', 'latency', 'dropped', 'model']);
  });

  it('says why when something is wrong', () => {
    expect(item(status({ sourceState: 'error', sourceError: 'ffmpeg exited: no such file' }), 'source')).toMatchObject({ level: 'bad', reason: 'ffmpeg exited: no such file' });
    expect(item(status({ obs: { connected: false, reason: 'socket closed', programScene: 'Game' } }), 'obs')).toMatchObject({ level: 'bad', reason: 'OBS: socket closed' });
    expect(item(status({ obs: { connected: true, reason: null, programScene: 'Game' } }), 'obs')).toMatchObject({ level: 'ok', value: 'connected · Game' });
    expect(item(status({ pauseScene: 'BRB' }), 'state')).toMatchObject({ level: 'warn', reason: "pause scene 'BRB' is on program" });
    expect(item(status({ fps: 0.8 }), 'fps')!.level).toBe('bad');
    expect(item(status({ fps: 1.4 }), 'fps')!.level).toBe('warn');
    expect(item(status({ latencyMs: 4000 }), 'latency')!.level).toBe('bad');
    expect(item(undefined, 'link', 'closed')!.level).toBe('bad');
  });

  it('shows chat: waiting questions, sent against the limit, and a lost channel', () => {
    const chat = { channel: 'me', joined: true, canPost: true, questionsWaiting: 2, sentLast30s: 3, limit: 15, queuedOut: 0 };
    expect(item(status({ chat }), 'chat')).toMatchObject({ level: 'ok', value: '#me · 2 waiting · 3/15 in 30 s' });
    expect(item(status({ chat: { ...chat, sentLast30s: 15, queuedOut: 4 } }), 'chat')).toMatchObject({ level: 'warn', reason: 'at the rate limit: 4 lines wait' });
    expect(item(status({ chat: { ...chat, joined: false } }), 'chat')!.level).toBe('bad');
  });

  it('flags frames dropped within the history, not ones from long ago', () => {
    const h = newStatusHistory(3);
    for (const dropped of [5, 5, 5]) recordStatus(h, status({ framesDropped: dropped }));
    expect(item(status({ framesDropped: 5 }), 'dropped', 'open', h)!.level).toBe('ok');
    recordStatus(h, status({ framesDropped: 9 }));
    expect(item(status({ framesDropped: 9 }), 'dropped', 'open', h)).toMatchObject({ level: 'warn', reason: '4 frames dropped in the last 6 s' });
  });

  it('draws sparklines scaled to the larger of a floor and the data', () => {
    const h = newStatusHistory();
    [1, 2].forEach((fps) => recordStatus(h, status({ fps })));
    expect(sparkPoints(h.fps, 10, 10, 2)).toBe('0.0,5.0 10.0,0.0');
    expect(sparkPoints(h.fps, 10, 10, 4)).toBe('0.0,7.5 10.0,5.0');
    expect(sparkPoints(newStatusHistory().fps, 10, 10, 1)).toBe('');
  });
});
