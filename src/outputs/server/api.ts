import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { authorize, type Role, type Tokens } from '../../auth/tokens.js';
import type { ApiBody, ApiErrorBody, ApiResponse, ApiRoute, CaptionFormat } from '../../protocol/index.js';
import type { DaemonControl } from '../plugin.js';
import { bearerToken } from './guard.js';

export const ThresholdBody: z.ZodType<ApiBody<'POST /threshold'>> = z.object({ threshold: z.number().min(0).max(1) }).strict();
export const AskBody: z.ZodType<ApiBody<'POST /ask'>> = z
  .object({ text: z.string().trim().min(1).max(500), asker: z.string().trim().min(1).max(60).optional() })
  .strict();

/** Sends a route's response, typed by the shared ApiRoutes map. */
const reply = <R extends ApiRoute>(res: Response, _route: R, body: ApiResponse<R>): void => void res.json(body);
/** Routes whose response is a file (text) rather than JSON. */
type FileRoute = { [R in ApiRoute]: ApiResponse<R> extends string ? R : never }[ApiRoute];
const replyFile = <R extends FileRoute>(res: Response, _route: R, file: { name: string; type: string; body: ApiResponse<R> }): void =>
  void res.type(file.type).attachment(file.name).send(file.body);

const CAPTION_TYPES: Record<CaptionFormat, string> = { srt: 'application/x-subrip; charset=utf-8', vtt: 'text/vtt; charset=utf-8' };
/** Search text from `?q=`: trimmed, at most 200 characters. */
const queryText = (req: Request) => (typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '');
const sessionId = (req: Request) => (/^[1-9]\d{0,15}$/.test(String(req.params.id)) ? Number(req.params.id) : undefined);
const fail = (res: Response, status: number, error: string): void => void res.status(status).json({ error } satisfies ApiErrorBody);

function requireRole(tokens: Tokens, needed: Role) {
  return (req: Request, res: Response, next: NextFunction) => {
    const auth = authorize(bearerToken(req), tokens, needed);
    if (!auth.ok) return fail(res, auth.status, auth.reason);
    next();
  };
}

function parseBody<T>(schema: z.ZodType<T>, req: Request, res: Response): T | undefined {
  const parsed = schema.safeParse(req.body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  fail(res, 400, `${issue.path.join('.') || 'body'}: ${issue.message}`);
  return undefined;
}

/** `/api`: reads need any token, mutations the control token. */
export function apiRouter(control: DaemonControl, tokens: Tokens): Router {
  const router = express.Router();
  const read = requireRole(tokens, 'overlay');
  const write = requireRole(tokens, 'control');
  router.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  router.get('/status', read, (_req, res) => reply(res, 'GET /status', control.status()));
  router.get('/transcript', read, (req, res) => {
    const limit = Math.min(500, Math.max(1, Number(req.query.limit) || 100));
    reply(res, 'GET /transcript', { lines: control.recentLines(limit) });
  });
  // Authenticate before parsing: a stranger gets 401, not a JSON parser's opinion.
  const json = express.json({ limit: '8kb' });
  router.post('/pause', write, json, (_req, res) => {
    control.pause();
    reply(res, 'POST /pause', control.status());
  });
  router.post('/resume', write, json, (_req, res) => {
    control.resume();
    reply(res, 'POST /resume', control.status());
  });
  router.post('/threshold', write, json, (req, res) => {
    const body = parseBody(ThresholdBody, req, res);
    if (!body) return;
    control.setThreshold(body.threshold);
    reply(res, 'POST /threshold', control.status());
  });
  router.post('/ask', write, json, (req, res) => {
    const body = parseBody(AskBody, req, res);
    if (body) reply(res, 'POST /ask', control.ask(body.text, body.asker));
  });
  // Chat questions held for approval (twitch.manualApproval).
  router.get('/questions', read, (_req, res) => reply(res, 'GET /questions', { pending: control.questions?.pending() ?? [] }));
  router.post('/questions/:id/approve', write, json, (req, res) => {
    const result = control.questions?.approve(String(req.params.id));
    if (result === undefined) fail(res, 404, 'no such pending question');
    else if (result === 'rate') fail(res, 429, 'question rate reached; still pending');
    else reply(res, 'POST /questions/:id/approve', result);
  });
  router.post('/questions/:id/reject', write, json, (req, res) => {
    if (control.questions?.reject(String(req.params.id))) reply(res, 'POST /questions/:id/reject', { ok: true });
    else fail(res, 404, 'no such pending question');
  });
  sessionRoutes(router, control, read);
  pluginRoutes(router, control, read, write, json);
  router.use((_req, res) => fail(res, 404, 'no such endpoint'));
  return router;
}

/** Recorded sessions: list, transcript, captions. Reads: the overlay token may too. */
function sessionRoutes(router: Router, control: DaemonControl, read: ReturnType<typeof requireRole>): void {
  const archive = (res: Response) => control.sessions ?? void fail(res, 404, 'no transcript store in this daemon');
  router.get('/sessions', read, (req, res) => {
    const sessions = archive(res);
    if (sessions) reply(res, 'GET /sessions', { sessions: sessions.list(queryText(req)) });
  });
  router.get('/sessions/:id/transcript', read, (req, res) => {
    const sessions = archive(res);
    const id = sessionId(req);
    if (!sessions) return;
    const found = id === undefined ? undefined : sessions.transcript(id, queryText(req));
    if (found) reply(res, 'GET /sessions/:id/transcript', found);
    else fail(res, 404, 'no such session');
  });
  router.get('/sessions/:id/captions', read, (req, res) => {
    const format = req.query.format ?? 'srt';
    if (format !== 'srt' && format !== 'vtt') return fail(res, 400, 'format must be srt or vtt');
    const sessions = archive(res);
    const id = sessionId(req);
    if (!sessions) return;
    const body = id === undefined ? undefined : sessions.captions(id, format);
    if (body === undefined) fail(res, 404, 'no such session');
    else replyFile(res, 'GET /sessions/:id/captions', { name: `cocaster-session-${id}.${format}`, type: CAPTION_TYPES[format], body });
  });
}

/** The plugin host's plugins: their state (any token) and their contributed commands (control token). */
function pluginRoutes(router: Router, control: DaemonControl, read: ReturnType<typeof requireRole>, write: ReturnType<typeof requireRole>, json: ReturnType<typeof express.json>): void {
  router.get('/plugins', read, (_req, res) => reply(res, 'GET /plugins', { plugins: control.plugins?.list() ?? [] }));
  router.post('/plugins/:id/commands/:command', write, json, (req, res) => {
    const result = control.plugins?.run(String(req.params.id), String(req.params.command)) ?? 'no such plugin';
    if (result === 'ok') reply(res, 'POST /plugins/:id/commands/:command', { ok: true });
    else fail(res, result === 'not active' ? 409 : 404, result);
  });
}
