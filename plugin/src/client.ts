/** The daemon's HTTP API, typed by the routes the daemon itself declares (src/protocol). */
import type { ApiBody, ApiResponse, ApiRoute, DaemonStatus, PluginInfo, SessionSummary, TranscriptLine } from '../../src/protocol/index.js';

export type CaptionFormat = 'srt' | 'vtt';

export class DaemonError extends Error {
  override name = 'DaemonError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** Fills `:id` in a route's path. */
const fill = (path: string, params: Record<string, string | number>) => path.replace(/:(\w+)/g, (_, k: string) => encodeURIComponent(String(params[k])));

export class DaemonClient {
  /** `token()` is asked at each request: the token lives in SecretStorage, not here. */
  constructor(readonly base: string, private readonly token: () => Promise<string | undefined>, private readonly timeoutMs = 5_000) {}

  async call<R extends ApiRoute>(route: R, body?: ApiBody<R>, params: Record<string, string | number> = {}, query = ''): Promise<ApiResponse<R>> {
    const res = await this.send(route, body, params, query);
    return (await res.json()) as ApiResponse<R>;
  }

  status = (): Promise<DaemonStatus> => this.call('GET /status');
  pause = (): Promise<DaemonStatus> => this.call('POST /pause');
  resume = (): Promise<DaemonStatus> => this.call('POST /resume');
  setThreshold = (threshold: number): Promise<DaemonStatus> => this.call('POST /threshold', { threshold });
  ask = (text: string) => this.call('POST /ask', { text });
  transcript = async (): Promise<TranscriptLine[]> => (await this.call('GET /transcript')).lines;
  sessions = async (): Promise<SessionSummary[]> => (await this.call('GET /sessions')).sessions;
  plugins = async (): Promise<PluginInfo[]> => (await this.call('GET /plugins')).plugins;
  runPluginCommand = (pluginId: string, command: string) => this.call('POST /plugins/:id/commands/:command', undefined, { id: pluginId, command });

  /** A session's captions as SRT or VTT text. */
  async captions(sessionId: number, format: CaptionFormat): Promise<string> {
    return (await this.send('GET /sessions/:id/captions', undefined, { id: sessionId }, `?format=${format}`)).text();
  }

  private async send(route: ApiRoute, body: unknown, params: Record<string, string | number>, query: string): Promise<Response> {
    const [method, path] = route.split(' ') as [string, string];
    const token = await this.token();
    const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${this.base}/api${fill(path, params)}${query}`, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new DaemonError(`cocaster daemon not reachable at ${this.base} (${err instanceof Error ? err.message : String(err)})`);
    }
    if (!res.ok) {
      const error = ((await res.json().catch(() => ({}))) as { error?: string }).error ?? res.statusText;
      throw new DaemonError(res.status === 401 || res.status === 403 ? `the daemon refused the control token (${error}); run "cocaster: Set Control Token"` : error, res.status);
    }
    return res;
  }
}
