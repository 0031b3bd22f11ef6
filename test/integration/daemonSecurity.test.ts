import { statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { rawRequest, startDaemonProcess, type DaemonProcess, type RawResponse } from '../daemonHarness.js';

const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });
const json = { 'Content-Type': 'application/json' };

/** Resolves with the HTTP status a websocket upgrade got (101 when accepted). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((res) => {
    const ws = new WebSocket(url, { headers });
    ws.on('open', () => {
      ws.close();
      res(101);
    });
    ws.on('unexpected-response', (_req, r) => res(r.statusCode ?? 0));
    ws.on('error', () => res(0));
  });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host, port });
    s.on('connect', () => {
      s.destroy();
      res(true);
    });
    s.on('error', () => res(false));
  });
}

describe('daemon security', () => {
  let d: DaemonProcess;
  const responses: RawResponse[] = [];
  const req = async (...args: Parameters<typeof rawRequest>) => {
    const r = await rawRequest(...args);
    responses.push(r);
    return r;
  };

  beforeAll(async () => {
    d = await startDaemonProcess();
  }, 120_000);
  afterAll(async () => {
    await d?.stop();
  });

  it('keeps the tokens, and the transcript (viewer names and questions), in 0600 files', () => {
    expect(statSync(join(d.configDir, 'tokens.json')).mode & 0o777).toBe(0o600);
    expect(statSync(join(d.configDir, 'transcripts.db')).mode & 0o777).toBe(0o600);
  });

  it('answers 401 without a token and with an unknown one', async () => {
    expect((await req(d.port, 'GET', '/api/status')).status).toBe(401);
    expect((await req(d.port, 'POST', '/api/pause')).status).toBe(401);
    expect((await req(d.port, 'POST', '/api/pause', bearer('x'.repeat(43)))).status).toBe(401);
    expect((await req(d.port, 'POST', '/api/ask', { ...json }, '{"text":"hi"}')).status).toBe(401);
    for (const path of ['/api/sessions', '/api/sessions/1/transcript', '/api/sessions/1/captions?format=srt']) expect((await req(d.port, 'GET', path)).status).toBe(401);
  });

  it('lets the overlay token read but not steer', async () => {
    const o = bearer(d.tokens.overlay);
    expect((await req(d.port, 'GET', '/api/status', o)).status).toBe(200);
    expect((await req(d.port, 'POST', '/api/pause', o)).status).toBe(403);
    expect((await req(d.port, 'POST', '/api/resume', o)).status).toBe(403);
    expect((await req(d.port, 'POST', '/api/threshold', { ...o, ...json }, '{"threshold":0.1}')).status).toBe(403);
    expect((await req(d.port, 'POST', '/api/ask', { ...o, ...json }, '{"text":"hi"}')).status).toBe(403);
    const status = JSON.parse((await req(d.port, 'GET', '/api/status', o)).body);
    expect(status).toMatchObject({ paused: false, threshold: 0.99 });
  });

  it('lets the control token steer, and status shows it', async () => {
    const c = bearer(d.tokens.control);
    const paused = await req(d.port, 'POST', '/api/pause', c);
    expect(paused.status).toBe(200);
    expect(JSON.parse(paused.body)).toMatchObject({ paused: true });
    const t = await req(d.port, 'POST', '/api/threshold', { ...c, ...json }, '{"threshold":0.5}');
    expect(JSON.parse(t.body)).toMatchObject({ threshold: 0.5 });
    expect((await req(d.port, 'POST', '/api/threshold', { ...c, ...json }, '{"threshold":7}')).status).toBe(400);
    const resumed = JSON.parse((await req(d.port, 'POST', '/api/resume', c)).body);
    expect(resumed).toMatchObject({ paused: false, model: 'tiny-random', executionProvider: 'cpu', source: 'demo test pattern' });
    expect(resumed).toHaveProperty('fps');
    expect(resumed).toHaveProperty('latencyMs');
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin, even with the control token', async () => {
    const c = bearer(d.tokens.control);
    expect((await req(d.port, 'GET', '/api/status', { ...c, Host: `evil.example:${d.port}` })).status).toBe(403);
    expect((await req(d.port, 'POST', '/api/pause', { ...c, Host: `evil.example:${d.port}` })).status).toBe(403);
    expect((await req(d.port, 'GET', '/overlay/', { Host: `127.0.0.1.nip.io:${d.port}` })).status).toBe(403);
    expect((await req(d.port, 'POST', '/api/pause', { ...c, Origin: 'http://evil.example' })).status).toBe(403);
    expect((await req(d.port, 'POST', '/api/pause', { ...c, Origin: 'null' })).status).toBe(403);
    expect((await req(d.port, 'GET', '/api/status', { ...c, Host: `localhost:${d.port}`, Origin: `http://localhost:${d.port}` })).status).toBe(200);
    const status = JSON.parse((await req(d.port, 'GET', '/api/status', c)).body);
    expect(status.paused).toBe(false);
  });

  it('guards the websockets the same way', async () => {
    const ws = (path: string, token?: string) => `ws://127.0.0.1:${d.port}${path}${token ? `?token=${token}` : ''}`;
    expect(await upgradeStatus(ws('/ws/overlay'))).toBe(401);
    expect(await upgradeStatus(ws('/ws/overlay', d.tokens.overlay))).toBe(101);
    expect(await upgradeStatus(ws('/ws/control', d.tokens.overlay))).toBe(403);
    expect(await upgradeStatus(ws('/ws/control', d.tokens.control))).toBe(101);
    expect(await upgradeStatus(ws('/ws/control', d.tokens.control), { Origin: 'http://evil.example' })).toBe(403);
    expect(await upgradeStatus(ws('/ws/overlay', d.tokens.overlay), { Host: `evil.example:${d.port}` })).toBe(403);
  });

  it('listens on 127.0.0.1 by default', async () => {
    expect(d.stderr()).toContain(`http://127.0.0.1:${d.port}/`);
    expect(await canConnect('127.0.0.1', d.port)).toBe(true);
  });

  // Needs an address of this machine other than loopback to knock on.
  const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
  it.skipIf(!external)('is not reachable on the machine\'s other addresses', async () => {
    expect(await canConnect(external!.address, d.port)).toBe(false);
  });

  it('never puts a token in an API response, and prints the control token once, at first start only', async () => {
    const c = bearer(d.tokens.control);
    responses.push(await rawRequest(d.port, 'GET', '/api/transcript', c));
    for (const path of ['/api/sessions', '/api/sessions/1/transcript', '/api/sessions/1/captions?format=vtt']) responses.push(await rawRequest(d.port, 'GET', path, c));
    expect(responses.length).toBeGreaterThan(10);
    for (const r of responses) {
      expect(r.body).not.toContain(d.tokens.control);
      expect(r.body).not.toContain(d.tokens.overlay);
    }
    const logs = d.stdout() + d.stderr();
    expect(logs.split(d.tokens.control).length - 1).toBe(1);
    expect(d.stderr()).toMatch(new RegExp(`control panel: http://127\\.0\\.0\\.1:${d.port}/#token=`));
    // A second start with the same config directory keeps the tokens and does not print the control token.
    await d.stop();
    const again = await startDaemonProcess(undefined, d.configDir);
    try {
      expect(again.tokens).toEqual(d.tokens);
      await rawRequest(again.port, 'POST', '/api/pause', bearer(again.tokens.control));
      expect(again.stdout() + again.stderr()).not.toContain(d.tokens.control);
    } finally {
      expect(await again.stop('SIGTERM')).toBe(0);
    }
    expect(again.stdout() + again.stderr()).not.toContain(d.tokens.control);
  }, 120_000);
});
