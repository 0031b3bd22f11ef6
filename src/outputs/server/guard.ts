import type { IncomingMessage } from 'node:http';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/** Host header values a legitimate request can carry. Anything else is a
 * DNS-rebinding attempt (a foreign name resolving to 127.0.0.1). */
export function allowedHosts(boundHost: string, port: number): Set<string> {
  const host = boundHost.includes(':') && !boundHost.startsWith('[') ? `[${boundHost}]` : boundHost;
  return new Set([host, ...LOOPBACK_NAMES].map((h) => `${h}:${port}`));
}

export type GuardResult = { ok: true } | { ok: false; status: 403; reason: string };

/** Host must be ours; Origin, when a browser sends one, must be ours too. */
export function checkHostAndOrigin(req: IncomingMessage, hosts: Set<string>): GuardResult {
  const host = req.headers.host?.toLowerCase();
  if (!host || !hosts.has(host)) return { ok: false, status: 403, reason: 'foreign Host' };
  const origin = req.headers.origin;
  if (origin !== undefined && !isOwnOrigin(origin, hosts)) return { ok: false, status: 403, reason: 'foreign Origin' };
  return { ok: true };
}

function isOwnOrigin(origin: string, hosts: Set<string>): boolean {
  try {
    const url = new URL(origin);
    return url.protocol === 'http:' && hosts.has(url.host.toLowerCase());
  } catch {
    return false; // includes the literal "null" origin of sandboxed and file: pages
  }
}

export function bearerToken(req: IncomingMessage): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m?.[1];
}

export function queryToken(req: IncomingMessage): string | undefined {
  const url = new URL(req.url ?? '/', 'http://localhost');
  return url.searchParams.get('token') ?? undefined;
}
