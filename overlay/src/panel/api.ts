import type { ApiBody, ApiErrorBody, ApiResponse, ApiRoute, CaptionFormat } from '../../../src/protocol/index.ts';

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

interface CallOptions<R extends ApiRoute> {
  body?: ApiBody<R>;
  /** Fills the route's `:name` parts (`:id`, `:command`). */
  params?: Record<string, string | number>;
  query?: Record<string, string>;
}

async function request<R extends ApiRoute>(token: string, route: R, options: CallOptions<R>): Promise<Response> {
  const [method, template] = route.split(' ') as [string, string];
  const search = options.query ? `?${new URLSearchParams(options.query)}` : '';
  const path = template.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(String(options.params?.[name] ?? ''))) + search;
  const body = method === 'POST' ? JSON.stringify(options.body ?? {}) : undefined;
  const res = await fetch(`/api${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body,
  });
  if (!res.ok) {
    const data = (await res.json().catch(() => ({}))) as Partial<ApiErrorBody>;
    throw new ApiError(res.status, data.error ?? res.statusText);
  }
  return res;
}

/** Calls one route of the shared ApiRoutes map; its `:name` parts are filled from `params`. */
async function call<R extends ApiRoute>(token: string, route: R, options: CallOptions<R> = {}): Promise<ApiResponse<R>> {
  return (await (await request(token, route, options)).json()) as ApiResponse<R>;
}

/** The file name the daemon gave an attachment (Content-Disposition), else `fallback`. */
const attachmentName = (res: Response, fallback: string) => /filename="?([^";]+)"?/.exec(res.headers.get('Content-Disposition') ?? '')?.[1] ?? fallback;

/** Fetches a session's captions (the token goes in a header, so a plain link cannot)
 * and hands them to the browser as a download. */
async function downloadCaptions(token: string, id: number, format: CaptionFormat): Promise<void> {
  const res = await request(token, 'GET /sessions/:id/captions', { params: { id }, query: { format } });
  const url = URL.createObjectURL(await res.blob());
  const a = Object.assign(document.createElement('a'), { href: url, download: attachmentName(res, `cocaster-session-${id}.${format}`) });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export const api = (token: string) => ({
  status: () => call(token, 'GET /status'),
  transcript: () => call(token, 'GET /transcript', { query: { limit: '200' } }),
  pause: () => call(token, 'POST /pause'),
  resume: () => call(token, 'POST /resume'),
  threshold: (threshold: number) => call(token, 'POST /threshold', { body: { threshold } }),
  ask: (text: string, asker?: string) => call(token, 'POST /ask', { body: asker ? { text, asker } : { text } }),
  pending: () => call(token, 'GET /questions'),
  approve: (id: string) => call(token, 'POST /questions/:id/approve', { params: { id } }),
  reject: (id: string) => call(token, 'POST /questions/:id/reject', { params: { id } }),
  sessions: (q: string) => call(token, 'GET /sessions', { query: { q } }),
  sessionTranscript: (id: number, q: string) => call(token, 'GET /sessions/:id/transcript', { params: { id }, query: { q } }),
  downloadCaptions: (id: number, format: CaptionFormat) => downloadCaptions(token, id, format),
  plugins: () => call(token, 'GET /plugins'),
  runPluginCommand: (id: string, command: string) => call(token, 'POST /plugins/:id/commands/:command', { params: { id, command } }),
});

export type Api = ReturnType<typeof api>;
