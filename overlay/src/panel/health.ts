import type { DaemonStatus } from '../../../src/protocol/index.ts';
import type { ConnectionState } from '../lib/connection.ts';
import { NumberRing } from './decisionSeries.ts';

export type Level = 'ok' | 'warn' | 'bad' | 'info';

export interface HealthItem {
  key: string;
  label: string;
  value: string;
  level: Level;
  /** What is wrong, when the level says something is. */
  reason?: string;
}

/** Status samples (one every ~2 s) for the sparklines and "dropped lately". */
export interface StatusHistory {
  fps: NumberRing;
  latencyMs: NumberRing;
  dropped: NumberRing;
}

/** Two minutes of samples at the daemon's 2-second status interval. */
export const newStatusHistory = (samples = 60): StatusHistory => ({ fps: new NumberRing(samples), latencyMs: new NumberRing(samples), dropped: new NumberRing(samples) });

export function recordStatus(h: StatusHistory, s: DaemonStatus): void {
  h.fps.push(s.fps);
  h.latencyMs.push(s.latencyMs);
  h.dropped.push(s.framesDropped);
}

const values = (ring: NumberRing) => Array.from({ length: ring.length }, (_, i) => ring.at(i));

/** An SVG polyline's points for a sparkline `width` x `height`, y from 0 to the
 * larger of `floor` and the highest value (so a steady line is not magnified noise). */
export function sparkPoints(ring: NumberRing, width: number, height: number, floor: number): string {
  const ys = values(ring);
  if (ys.length < 2) return '';
  const max = Math.max(floor, ...ys);
  return ys.map((y, i) => `${((i / (ys.length - 1)) * width).toFixed(1)},${(height - (y / max) * height).toFixed(1)}`).join(' ');
}

function linkItem(link: ConnectionState): HealthItem {
  if (link === 'open') return { key: 'link', label: 'daemon', value: 'connected', level: 'ok' };
  if (link === 'connecting') return { key: 'link', label: 'daemon', value: 'connecting…', level: 'warn' };
  return { key: 'link', label: 'daemon', value: 'unreachable', level: 'bad', reason: 'the daemon is not answering: is cocaster start running?' };
}

function stateItem(s: DaemonStatus): HealthItem {
  if (s.paused) return { key: 'state', label: 'commentary', value: 'paused', level: 'warn', reason: 'paused by hand: press Resume (or K)' };
  if (s.pauseScene !== null) return { key: 'state', label: 'commentary', value: 'paused', level: 'warn', reason: `pause scene '${s.pauseScene}' is on program` };
  return { key: 'state', label: 'commentary', value: 'live', level: 'ok' };
}

function sourceItem(s: DaemonStatus): HealthItem {
  const base = { key: 'source', label: 'source', value: `${s.source} (${s.sourceState})` };
  if (s.sourceState === 'error') return { ...base, level: 'bad', reason: s.sourceError ?? 'the source failed' };
  if (s.sourceState === 'ended') return { ...base, level: 'warn', reason: 'the source ended: no new frames' };
  if (s.sourceState === 'starting') return { ...base, level: 'warn' };
  return { ...base, level: 'ok' };
}

function obsItem(s: DaemonStatus): HealthItem | undefined {
  if (!s.obs) return undefined;
  if (s.obs.connected) return { key: 'obs', label: 'OBS', value: s.obs.programScene ? `connected · ${s.obs.programScene}` : 'connected', level: 'ok' };
  return { key: 'obs', label: 'OBS', value: 'not connected', level: 'bad', reason: s.obs.reason === 'connecting' ? 'OBS is not reachable: is it running with its WebSocket server on?' : `OBS: ${s.obs.reason}` };
}

function fpsItem(s: DaemonStatus): HealthItem {
  const value = `${s.fps} / ${s.targetFps}`;
  if (s.paused || s.pauseScene !== null || s.sourceState !== 'running') return { key: 'fps', label: 'fps', value, level: 'info' };
  if (s.fps >= 0.8 * s.targetFps) return { key: 'fps', label: 'fps', value, level: 'ok' };
  return { key: 'fps', label: 'fps', value, level: s.fps >= 0.5 * s.targetFps ? 'warn' : 'bad', reason: 'the engine is slower than the stream: frames are dropped' };
}

function latencyItem(s: DaemonStatus): HealthItem {
  const frameMs = 1000 / (s.targetFps || 1);
  const value = `${Math.round(s.latencyMs)} ms`;
  if (s.latencyMs <= 2 * frameMs) return { key: 'latency', label: 'latency', value, level: 'ok' };
  return { key: 'latency', label: 'latency', value, level: s.latencyMs <= 5 * frameMs ? 'warn' : 'bad', reason: 'commentary lags the stream' };
}

function droppedItem(s: DaemonStatus, h: StatusHistory): HealthItem {
  const lately = h.dropped.length ? s.framesDropped - h.dropped.at(0) : 0;
  const base = { key: 'dropped', label: 'dropped', value: String(s.framesDropped) };
  return lately > 0 ? { ...base, level: 'warn', reason: `${lately} frames dropped in the last ${Math.round(h.dropped.length * 2)} s` } : { ...base, level: 'ok' };
}

function chatItem(s: DaemonStatus): HealthItem | undefined {
  const c = s.chat;
  if (!c) return undefined;
  const value = `#${c.channel} · ${c.questionsWaiting} waiting · ${c.sentLast30s}/${c.limit} in 30 s`;
  if (!c.joined) return { key: 'chat', label: 'chat', value, level: 'bad', reason: 'not in the channel (reconnecting): answers wait' };
  if (!c.canPost) return { key: 'chat', label: 'chat', value, level: 'info', reason: 'read-only: no bot token' };
  if (c.sentLast30s >= c.limit) return { key: 'chat', label: 'chat', value, level: 'warn', reason: `at the rate limit: ${c.queuedOut} lines wait` };
  return { key: 'chat', label: 'chat', value, level: 'ok' };
}

/** Everything the health view shows, colour-coded, with the reason when not fine. */
export function healthItems(s: DaemonStatus | undefined, link: ConnectionState, h: StatusHistory): HealthItem[] {
  if (!s) return [linkItem(link)];
  const items: Array<HealthItem | undefined> = [
    linkItem(link), stateItem(s), sourceItem(s), obsItem(s), fpsItem(s), latencyItem(s), droppedItem(s, h), chatItem(s),
    { key: 'model', label: 'model', value: `${s.model} on ${s.executionProvider}`, level: 'info' },
  ];
  return items.filter((x): x is HealthItem => x !== undefined);
}
