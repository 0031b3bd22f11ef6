import { randomBytes, timingSafeEqual } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../util/errors.js';

export type Role = 'control' | 'overlay';

/** control: every mutation. overlay: read-only event stream (it sits in OBS's
 * scene file and screenshots of the browser-source URL, so it must not steer). */
export interface Tokens {
  control: string;
  overlay: string;
}

const TokensSchema = z.object({ control: z.string().min(32), overlay: z.string().min(32) });
export const TOKENS_FILE = 'tokens.json';

const newToken = () => randomBytes(32).toString('base64url');

/** Reads the tokens, creating them (mode 0600) at first start. `created` tells the
 * caller to show the control token this once. */
export function loadOrCreateTokens(dir: string): { tokens: Tokens; created: boolean } {
  const path = join(dir, TOKENS_FILE);
  if (existsSync(path)) {
    const parsed = TokensSchema.safeParse(safeJson(readFileSync(path, 'utf8')));
    if (!parsed.success) throw new UserError(`${path} is damaged: delete it to create new tokens`);
    return { tokens: parsed.data, created: false };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tokens: Tokens = { control: newToken(), overlay: newToken() };
  writeFileSync(path, JSON.stringify(tokens, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(path, 0o600); // the umask may have widened it
  return { tokens, created: true };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Constant-time comparison, so response timing does not leak a token's prefix. */
export function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function roleOf(token: string | undefined, tokens: Tokens): Role | undefined {
  if (sameToken(token, tokens.control)) return 'control';
  if (sameToken(token, tokens.overlay)) return 'overlay';
  return undefined;
}

export type AuthResult = { ok: true; role: Role } | { ok: false; status: 401 | 403; reason: string };

/** No or unknown token: 401. A valid token without the rights: 403. */
export function authorize(token: string | undefined, tokens: Tokens, needed: Role): AuthResult {
  const role = roleOf(token, tokens);
  if (!role) return { ok: false, status: 401, reason: token ? 'unknown token' : 'token required' };
  if (needed === 'control' && role !== 'control') return { ok: false, status: 403, reason: 'this token is read-only' };
  return { ok: true, role };
}
