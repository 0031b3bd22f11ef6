import type { BusEvent, SourceState, SpeechTrigger } from './events.js';

/** What `/api/status` and the control panel show. Holds no secret. */
export interface DaemonStatus {
  source: string;
  sourceState: SourceState;
  model: string;
  executionProvider: string;
  /** Frames the engine processed per second, over the last few seconds. */
  fps: number;
  /** Capture-to-processed ms of the last frames (mean). */
  latencyMs: number;
  threshold: number;
  paused: boolean;
  /** The transcript store's session (0 when nothing is recorded). */
  sessionId: number;
  videoTime: number;
  /** The model's frame rate: what `fps` should reach. */
  targetFps: number;
  /** Frames a live source dropped because the engine was still busy. */
  framesDropped: number;
  /** Why the source stopped, while sourceState is 'error'. */
  sourceError: string | null;
  /** OBS's connection (the obs and obs-stream sources); null for other sources. */
  obs: ObsHealth | null;
  /** The pause scene on program (commentary held), else null. */
  pauseScene: string | null;
  /** Twitch chat, while the twitch output runs; else null. */
  chat: ChatStatus | null;
}

export interface ObsHealth {
  connected: boolean;
  /** Why it is not connected (the last disconnect's reason). */
  reason: string | null;
  programScene: string | null;
}

export interface ChatStatus {
  channel: string;
  /** The channel is joined (lines go out); false while (re)connecting. */
  joined: boolean;
  /** False without a bot token: chat is only read. */
  canPost: boolean;
  /** Chat questions held for approval. */
  questionsWaiting: number;
  /** Lines counted against Twitch's limit in the last 30 s, and that limit. */
  sentLast30s: number;
  limit: number;
  /** Lines waiting for room under the limit. */
  queuedOut: number;
}

/** What a websocket client receives. */
export type ServerMessage =
  | { kind: 'event'; at: number; event: BusEvent }
  | { kind: 'status'; status: DaemonStatus };

export type LineRole = 'user' | 'assistant';

/** One row of the transcript: a viewer's question or a spoken line. */
export interface TranscriptLine {
  sessionId: number;
  /** Video (stream) seconds. */
  t: number;
  /** Wall-clock ms since epoch. */
  wallMs: number;
  role: LineRole;
  text: string;
  /** Why an assistant line was spoken; null for questions. */
  trigger: SpeechTrigger | null;
  asker: string | null;
  questionId: string | null;
}

/** One recorded session (one daemon start) in the panel's session list. */
export interface SessionSummary {
  id: number;
  /** Wall-clock ms since epoch. */
  startedAt: number;
  /** When it ended (clean shutdown), else its last line's wall-clock ms; null while live or empty. */
  endedAt: number | null;
  source: string;
  model: string;
  /** Questions and spoken lines recorded. */
  lines: number;
  /** Lines containing the search text (`?q=`); 0 without one. */
  matches: number;
  /** The session the daemon is recording now. */
  live: boolean;
}

export type CaptionFormat = 'srt' | 'vtt';

/** A configured plugin as the plugin host sees it (`GET /api/plugins`). */
export interface PluginInfo {
  id: string;
  version: string;
  /** waiting: between a failure and its restart. */
  state: 'starting' | 'active' | 'waiting' | 'stopped';
  starts: number;
  /** Events it lost by not keeping up. */
  dropped: number;
  /** The commands its manifest contributes (`POST /api/plugins/:id/commands/:command`). */
  commands: Array<{ id: string; title: string }>;
}

/** A chat question held for the streamer's approval (twitch.manualApproval). */
export interface ModeratedQuestion {
  id: string;
  text: string;
  asker: string;
  receivedAt: number;
}

/** A question the engine took: it is answered at the next frame after `t`. */
export interface AcceptedQuestion {
  id: string;
  t: number;
}

export interface AskRequest {
  text: string;
  asker?: string;
}

/**
 * The HTTP API under `/api`, typed end to end: the server's handlers and the
 * panel's client both name a route here, so neither states a response by hand.
 * Reads need any token; POSTs need the control token. Errors are `ApiErrorBody`.
 */
export interface ApiRoutes {
  'GET /status': { body: undefined; response: DaemonStatus };
  'GET /transcript': { body: undefined; response: { lines: TranscriptLine[] } };
  'POST /pause': { body: undefined; response: DaemonStatus };
  'POST /resume': { body: undefined; response: DaemonStatus };
  'POST /threshold': { body: { threshold: number }; response: DaemonStatus };
  'POST /ask': { body: AskRequest; response: AcceptedQuestion };
  'GET /questions': { body: undefined; response: { pending: ModeratedQuestion[] } };
  'POST /questions/:id/approve': { body: undefined; response: AcceptedQuestion };
  'POST /questions/:id/reject': { body: undefined; response: { ok: true } };
  /** Newest first; `?q=` keeps sessions with a line containing the text. */
  'GET /sessions': { body: undefined; response: { sessions: SessionSummary[] } };
  /** The session's lines, oldest first; `?q=` keeps lines containing the text. */
  'GET /sessions/:id/transcript': { body: undefined; response: { session: SessionSummary; lines: TranscriptLine[] } };
  /** `?format=srt|vtt`: the file `cocaster captions --session ID` prints, as an attachment (text, not JSON). */
  'GET /sessions/:id/captions': { body: undefined; response: string };
  'GET /plugins': { body: undefined; response: { plugins: PluginInfo[] } };
  /** Runs a command a plugin contributes (fire and forget: the plugin logs what it did). */
  'POST /plugins/:id/commands/:command': { body: undefined; response: { ok: true } };
}

export type ApiRoute = keyof ApiRoutes;
export type ApiBody<R extends ApiRoute> = ApiRoutes[R]['body'];
export type ApiResponse<R extends ApiRoute> = ApiRoutes[R]['response'];

export interface ApiErrorBody {
  error: string;
}
