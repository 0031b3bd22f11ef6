import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { z } from 'zod';
import type { Tokens } from '../daemon/tokens.js';
import type { DaemonControl } from '../outputs/plugin.js';
import { authorize, bearerToken, type Role } from './guard.js';

export const ThresholdBody = z.object({ threshold: z.number().min(0).max(1) }).strict();
export const AskBody = z
  .object({ text: z.string().trim().min(1).max(500), asker: z.string().trim().min(1).max(60).optional() })
  .strict();

function requireRole(tokens: Tokens, needed: Role) {
  return (req: Request, res: Response, next: NextFunction) => {
    const auth = authorize(bearerToken(req), tokens, needed);
    if (!auth.ok) {
      res.status(auth.status).json({ error: auth.reason });
      return;
    }
    next();
  };
}

function parseBody<T>(schema: z.ZodType<T>, req: Request, res: Response): T | undefined {
  const parsed = schema.safeParse(req.body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  res.status(400).json({ error: `${issue.path.join('.') || 'body'}: ${issue.message}` });
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
  router.get('/status', read, (_req, res) => void res.json(control.status()));
  router.get('/transcript', read, (req, res) => {
    const limit = Math.min(500, Math.max(1, Number(req.query.limit) || 100));
    res.json({ lines: control.recentLines(limit) });
  });
  // Authenticate before parsing: a stranger gets 401, not a JSON parser's opinion.
  const json = express.json({ limit: '8kb' });
  router.post('/pause', write, json, (_req, res) => {
    control.pause();
    res.json(control.status());
  });
  router.post('/resume', write, json, (_req, res) => {
    control.resume();
    res.json(control.status());
  });
  router.post('/threshold', write, json, (req, res) => {
    const body = parseBody(ThresholdBody, req, res);
    if (!body) return;
    control.setThreshold(body.threshold);
    res.json(control.status());
  });
  router.post('/ask', write, json, (req, res) => {
    const body = parseBody(AskBody, req, res);
    if (body) res.json(control.ask(body.text, body.asker));
  });
  // Chat questions held for approval (twitch.manualApproval).
  router.get('/questions', read, (_req, res) => void res.json({ pending: control.questions?.pending() ?? [] }));
  router.post('/questions/:id/approve', write, json, (req, res) => {
    const result = control.questions?.approve(String(req.params.id));
    if (result === undefined) res.status(404).json({ error: 'no such pending question' });
    else if (result === 'rate') res.status(429).json({ error: 'question rate reached; still pending' });
    else res.json(result);
  });
  router.post('/questions/:id/reject', write, json, (req, res) => {
    if (control.questions?.reject(String(req.params.id))) res.json({ ok: true });
    else res.status(404).json({ error: 'no such pending question' });
  });
  router.use((_req, res) => void res.status(404).json({ error: 'no such endpoint' }));
  return router;
}
