import { describe, expect, it } from 'vitest';
import { clock, LiveTranscript, parseThreshold, redact, statusBarView } from '../../plugin/src/viewState.js';
import type { DaemonStatus, TranscriptLine } from '../../src/protocol/index.js';

const status = {
  source: 'demo test pattern', sourceState: 'running', model: 'tiny-random', executionProvider: 'cpu', fps: 1.96, latencyMs: 40,
  threshold: 0.9, paused: false, sessionId: 3, videoTime: 12,
} as DaemonStatus; // the fields the status bar reads

describe('the extension view state', () => {
  it('status bar: live, paused, offline', () => {
    expect(statusBarView(status)).toMatchObject({ state: 'live', text: '$(broadcast) cocaster: live · 2.0 fps · tiny-random' });
    expect(statusBarView({ ...status, paused: true }).text).toBe('$(debug-pause) cocaster: paused · 2.0 fps · tiny-random');
    expect(statusBarView(undefined, 'not reachable')).toEqual({ state: 'offline', text: '$(debug-disconnect) cocaster: offline', tooltip: 'not reachable' });
  });

  it('talkativeness input: 0..1 only', () => {
    expect(parseThreshold(' 0.5 ')).toBe(0.5);
    expect(parseThreshold('1')).toBe(1);
    for (const bad of ['', '1.01', '-0.1', 'x', 'NaN']) expect(typeof parseThreshold(bad)).toBe('string');
  });

  it('redacts tokens from log lines, keeping the rest', () => {
    expect(redact('overlay:       http://127.0.0.1:4480/overlay/?token=abc-DEF_1&size=3')).toBe('overlay:       http://127.0.0.1:4480/overlay/?token=…&size=3');
    expect(redact('control panel: http://127.0.0.1:4480/#token=xyz')).toBe('control panel: http://127.0.0.1:4480/#token=…');
  });

  it('video clock', () => {
    expect(clock(0)).toBe('0:00');
    expect(clock(65.9)).toBe('1:05');
    expect(clock(3600)).toBe('60:00');
  });
});

describe('the live transcript', () => {
  const line = (t: number, role: 'user' | 'assistant', text: string): TranscriptLine => ({ sessionId: 1, t, wallMs: t, role, text, trigger: null, asker: null, questionId: null });

  it('starts from the recorded lines, adds events once, and shows the line being spoken', () => {
    const live = new LiveTranscript(3);
    live.reset([line(1, 'assistant', 'Kick-off.')]);
    // An event the recorded lines already hold (fetched as it happened) is not shown twice.
    expect(live.apply({ type: 'say', t: 1, text: 'Kick-off.', trigger: 'self', tokenIds: [] })).toBe(false);
    expect(live.apply({ type: 'question', t: 2, id: 'q1', text: 'Score?', asker: 'ana' })).toBe(true);
    live.apply({ type: 'speechStart', t: 3, trigger: 'question', questionId: 'q1' });
    live.apply({ type: 'speechDelta', t: 3, text: 'Two' });
    live.apply({ type: 'speechDelta', t: 3, text: ' nil' });
    expect(live.view().map((i) => [i.who, i.text, i.key === 'speaking'])).toEqual([['cocaster', 'Kick-off.', false], ['ana', 'Score?', false], ['cocaster', 'Two nil…', true]]);
    live.apply({ type: 'say', t: 3, text: 'Two nil.', trigger: 'question', tokenIds: [], questionId: 'q1' });
    live.apply({ type: 'say', t: 4, text: 'Corner.', trigger: 'self', tokenIds: [] });
    expect(live.view().map((i) => i.text)).toEqual(['Score?', 'Two nil.', 'Corner.']);
    expect(live.apply({ type: 'frame', t: 5, pInterval: 0.5, decision: 'silent' })).toBe(false);
  });
});
