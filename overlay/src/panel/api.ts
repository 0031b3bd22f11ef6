import type { DaemonStatus } from '../../../src/bus/wire.ts';
import type { TranscriptLine } from '../../../src/store/transcriptStore.ts';

const TOKEN_KEY = 'cocaster.controlToken';

/** The control token: from the URL fragment the daemon printed at first start
 * (then removed from the address bar), else from this browser's storage. */
export function takeToken(): string {
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) {
    localStorage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, '', location.pathname);
  }
  return localStorage.getItem(TOKEN_KEY) ?? '';
}

export function saveToken(token: string): void {
  localStorage.setItem(TOKEN_KEY, token);
}

/** A chat question held for the streamer's approval (manual moderation). */
export interface PendingQuestion {
  id: string;
  text: string;
  asker: string;
}

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

async function call<T>(token: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const res = await fetch(`/api/${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const data = (await res.json()) as T & { error?: string };
  if (!res.ok) throw new ApiError(res.status, data.error ?? res.statusText);
  return data;
}

export const api = (token: string) => ({
  status: () => call<DaemonStatus>(token, 'GET', 'status'),
  transcript: () => call<{ lines: TranscriptLine[] }>(token, 'GET', 'transcript?limit=200'),
  pause: () => call<DaemonStatus>(token, 'POST', 'pause'),
  resume: () => call<DaemonStatus>(token, 'POST', 'resume'),
  threshold: (threshold: number) => call<DaemonStatus>(token, 'POST', 'threshold', { threshold }),
  ask: (text: string, asker?: string) => call<{ id: string; t: number }>(token, 'POST', 'ask', { text, ...(asker ? { asker } : {}) }),
  pending: () => call<{ pending: PendingQuestion[] }>(token, 'GET', 'questions'),
  approve: (id: string) => call<{ id: string; t: number }>(token, 'POST', `questions/${encodeURIComponent(id)}/approve`, {}),
  reject: (id: string) => call<{ ok: boolean }>(token, 'POST', `questions/${encodeURIComponent(id)}/reject`, {}),
});

export type Api = ReturnType<typeof api>;
