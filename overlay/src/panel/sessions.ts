import type { SessionSummary } from '../../../src/protocol/index.ts';

/** Seconds a session ran: to its end, to now while live, 0 when nothing marks an end. */
export function sessionSeconds(s: SessionSummary, nowMs: number): number {
  const end = s.live ? nowMs : (s.endedAt ?? s.startedAt);
  return Math.max(0, Math.round((end - s.startedAt) / 1000));
}

/** 0:42, 12:05, 2:03:09. */
export function formatDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds / 60) % 60;
  const s = String(seconds % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** A stream time as the transcript shows it: 75.5 → 1:15. */
export const formatStreamTime = (t: number) => formatDuration(Math.floor(t));

export function formatStart(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
