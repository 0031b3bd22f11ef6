import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import { authorize, type Role, type Tokens } from '../../auth/tokens.js';
import type { ApiBody, ApiErrorBody, ApiResponse, ApiRoute } from '../../protocol/index.js';
import type { DaemonControl } from '../plugin.js';
import { bearerToken } from './guard.js';

export const ThresholdBody: z.ZodType<ApiBody<'POST /threshold'>> = z.object({ threshold: z.number().min(0).max(1) }).strict();
export const AskBody: z.ZodType<ApiBody<'POST /ask'>> = z
  .object({ text: z.string().trim().min(1).max(500), asker: z.string().trim().min(1).max(60).optional() })
  .strict();

/** Sends a route's response, typed by the shared ApiRoutes map. */
const reply = <R extends ApiRoute>(res: Response, _route: R, body: ApiResponse<R>): void => void res.json(body);
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
  router.use((_req, res) => fail(res, 404, 'no such endpoint'));
  return router;
}
