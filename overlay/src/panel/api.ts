import type { ApiBody, ApiErrorBody, ApiResponse, ApiRoute } from '../../../src/protocol/index.ts';

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

export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Calls one route of the shared ApiRoutes map; `:id` in the route is filled from `id`. */
async function call<R extends ApiRoute>(token: string, route: R, options: { body?: ApiBody<R>; id?: string; query?: string } = {}): Promise<ApiResponse<R>> {
  const [method, template] = route.split(' ') as [string, string];
  const path = template.replace(':id', encodeURIComponent(options.id ?? '')) + (options.query ?? '');
  const body = method === 'POST' ? JSON.stringify(options.body ?? {}) : undefined;
  const res = await fetch(`/api${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body,
  });
  const data: unknown = await res.json();
  if (!res.ok) throw new ApiError(res.status, (data as Partial<ApiErrorBody>).error ?? res.statusText);
  return data as ApiResponse<R>;
}

export const api = (token: string) => ({
  status: () => call(token, 'GET /status'),
  transcript: () => call(token, 'GET /transcript', { query: '?limit=200' }),
  pause: () => call(token, 'POST /pause'),
  resume: () => call(token, 'POST /resume'),
  threshold: (threshold: number) => call(token, 'POST /threshold', { body: { threshold } }),
  ask: (text: string, asker?: string) => call(token, 'POST /ask', { body: asker ? { text, asker } : { text } }),
  pending: () => call(token, 'GET /questions'),
  approve: (id: string) => call(token, 'POST /questions/:id/approve', { id }),
  reject: (id: string) => call(token, 'POST /questions/:id/reject', { id }),
});

export type Api = ReturnType<typeof api>;
