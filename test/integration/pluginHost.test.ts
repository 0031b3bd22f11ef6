import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaemonStatus } from '../../src/protocol/index.js';
import { startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { ROOT } from '../helpers.js';

const fixture = (name: string) => join(ROOT, 'test/fixtures/plugins', name);
// Secrets the daemon holds, from its config and its environment: none may reach a plugin.
const SECRETS = { obsConfig: 'obs-config-pw-5b1e', twitchConfig: 'oauth:twitchconfigtoken9f2c', obsEnv: 'obs-env-pw-77ad', twitchEnv: 'oauth:twitchenvtoken31d0' };

/** One daemon runs a good plugin, three that fail (throw in activate, exit, spin) and one
 * that dumps all it is given; the demo source plays at the fixture model's 2 fps. */
describe('the plugin host in a running daemon', () => {
  let daemon: DaemonProcess;
  const samples: Array<{ wall: number; status: DaemonStatus }> = [];
  let lines: () => string[];
  // The README's example plugin (webhook) posts here.
  const hooked: Array<{ type: string; text?: string }> = [];
  let hook: Server;

  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => (hooked.push(JSON.parse(body) as { type: string }), res.end()));
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`;
    process.env.OBS_PASSWORD = SECRETS.obsEnv;
    process.env.TWITCH_TOKEN = SECRETS.twitchEnv;
    daemon = await startDaemonProcess(
      testConfig({
        outputs: ['server'],
        obs: { password: SECRETS.obsConfig },
        twitch: { channel: 'somechannel', token: SECRETS.twitchConfig },
        plugins: ['good', 'throws', 'exits', 'spins', 'secrets', 'webhook'].map(fixture),
        pluginSettings: { good: { question: 'What colour is the card?', askAfterFrames: 4 }, secrets: { label: 'plain' }, webhook: { url: hookUrl } },
      }),
    );
    lines = () => daemon.stderr().split('\n');
    const status = async () => (await (await fetch(`${daemon.base}/api/status`, { headers: { Authorization: `Bearer ${daemon.tokens.overlay}` } })).json()) as DaemonStatus;
    // 20 s of misbehaving plugins: each fails and is restarted at least twice in that time.
    const start = Date.now();
    while (Date.now() - start < 20_000) {
      samples.push({ wall: Date.now(), status: await status() });
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }, 90_000);

  afterAll(async () => {
    const code = await daemon?.stop();
    hook?.close();
    expect(code).toBe(0);
  }, 30_000);

  it('keeps commenting at the usual fps while plugins throw, exit and spin', () => {
    const steady = samples.filter((s) => s.wall - samples[0]!.wall >= 4_000);
    const fps = steady.map((s) => s.status.fps);
    // The demo plays at 2 fps; the meter averages the last few seconds.
    expect(Math.min(...fps)).toBeGreaterThanOrEqual(1.5);
    const first = steady[0]!;
    const last = steady[steady.length - 1]!;
    const videoAdvance = last.status.videoTime - first.status.videoTime;
    expect(videoAdvance).toBeGreaterThanOrEqual(0.8 * ((last.wall - first.wall) / 1000));
    expect(last.status.sourceState).toBe('running');
    expect(daemon.stderr()).toMatch(/plugin good: frames [1-9]\d+/);
  });

  it('kept commenting: lines were spoken all through the misbehaviour', async () => {
    const transcript = (await (await fetch(`${daemon.base}/api/transcript?limit=500`, { headers: { Authorization: `Bearer ${daemon.tokens.overlay}` } })).json()) as { lines: Array<{ role: string; wallMs: number }> };
    const spokenAt = transcript.lines.filter((l) => l.role === 'assistant').map((l) => l.wallMs);
    const start = samples[0]!.wall;
    // Every 5 s of the 20 s window has spoken lines (the fixture talks on nearly every frame).
    for (let from = start; from < start + 20_000; from += 5_000) {
      expect(spokenAt.filter((t) => t >= from && t < from + 5_000).length, `lines spoken from +${(from - start) / 1000} s`).toBeGreaterThanOrEqual(3);
    }
  });

  it('a plugin that only imports the public API receives events and gets its question answered', async () => {
    const asked = /plugin good: asked (q\d+)/.exec(daemon.stderr());
    expect(asked).not.toBeNull();
    await until(() => daemon.stderr().includes(`plugin good: answer to ${asked![1]}: `), 'the answer to the plugin question', 20_000);
    const transcript = (await (await fetch(`${daemon.base}/api/transcript`, { headers: { Authorization: `Bearer ${daemon.tokens.overlay}` } })).json()) as { lines: Array<{ role: string; text: string; asker: string | null }> };
    expect(transcript.lines).toContainEqual(expect.objectContaining({ role: 'user', text: 'What colour is the card?', asker: 'good' }));
  });

  it("the README's example webhook plugin posts the spoken lines and the question", () => {
    expect(hooked.filter((e) => e.type === 'say').length).toBeGreaterThan(5);
    expect(hooked).toContainEqual(expect.objectContaining({ type: 'question', text: 'What colour is the card?', asker: 'good' }));
    expect(lines().filter((l) => l.startsWith('warn: plugin webhook:'))).toEqual([]);
  });

  it('GET /api/plugins lists each plugin with its state; a contributed command runs in the plugin', async () => {
    const get = async (token: string) => fetch(`${daemon.base}/api/plugins`, { headers: { Authorization: `Bearer ${token}` } });
    const { plugins } = (await (await get(daemon.tokens.overlay)).json()) as { plugins: Array<{ id: string; state: string; starts: number; commands: Array<{ id: string }> }> };
    expect(plugins.map((p) => p.id)).toEqual(['good', 'throws', 'exits', 'spins', 'secrets', 'webhook']);
    expect(plugins.find((p) => p.id === 'good')).toMatchObject({ state: 'active', starts: 1, commands: [{ id: 'good.hello', title: 'Say hello' }] });
    expect(plugins.find((p) => p.id === 'throws')!.starts).toBeGreaterThanOrEqual(3);
    const run = (path: string, token = daemon.tokens.control) => fetch(`${daemon.base}/api/plugins/${path}`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } });
    expect((await run('good/commands/good.hello', daemon.tokens.overlay)).status).toBe(403);
    expect((await run('good/commands/good.nope')).status).toBe(404);
    expect((await run('nobody/commands/x')).status).toBe(404);
    expect((await run('good/commands/good.hello')).status).toBe(200);
    await until(() => daemon.stderr().includes('plugin good: hello command') || undefined, 'the command to run', 10_000);
  });

  /** The delays of the restart lines of one plugin, which must be its only error lines. */
  const restarts = (id: string, reason: RegExp): number[] => {
    const errors = lines().filter((l) => l.startsWith(`error: plugin ${id}:`));
    for (const l of errors) expect(l).toMatch(new RegExp(`^error: plugin ${id}: ${reason.source}; restarting in \\d+ s$`));
    return errors.map((l) => Number(/restarting in (\d+) s$/.exec(l)![1]));
  };

  it('a plugin that throws in activate: one line per failure, restarted with doubling delays', () => {
    const delays = restarts('throws', /activate failed: boom in activate/);
    expect(delays.length).toBeGreaterThanOrEqual(3);
    expect(delays.slice(0, 3)).toEqual([1, 2, 4]);
  });

  it('a plugin that calls process.exit: one line, restarted with backoff, active again', () => {
    const delays = restarts('exits', /exited with code 3/);
    expect(delays.length).toBeGreaterThanOrEqual(2);
    expect(delays.slice(0, 2)).toEqual([1, 2]);
    expect(daemon.stderr()).toMatch(/plugin exits: active \(start 2\)/);
  });

  it('a plugin that blocks its event loop: detected by its heartbeat, killed, restarted', () => {
    const delays = restarts('spins', /not responding for \d+\.\d s \(event loop blocked\); killed/);
    expect(delays.length).toBeGreaterThanOrEqual(1);
    expect(delays[0]).toBe(1);
    expect(daemon.stderr()).toMatch(/plugin spins: active \(start 2\)/);
  });

  it('no stack traces, and no plugin line spans two lines', () => {
    expect(lines().filter((l) => /^\s+at /.test(l))).toEqual([]);
  });

  it('hands a plugin no token, password or config path: not in its settings, events, status, environment or arguments', () => {
    const dump = lines().filter((l) => l.startsWith('plugin secrets: dump '));
    const kinds = new Set(dump.map((l) => l.split(' ')[3]));
    for (const k of ['settings', 'env', 'argv', 'execArgv', 'cwd', 'event', 'status', 'recentLines', 'refused']) expect(kinds).toContain(k);
    expect(dump.filter((l) => l.startsWith('plugin secrets: dump refused'))).toHaveLength(2);
    const text = dump.join('\n');
    const secrets = [...Object.values(SECRETS), daemon.tokens.control, daemon.tokens.overlay, daemon.configDir, 'tokens.json'];
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/dump env (COCASTER_|OBS_|TWITCH_|XDG_CONFIG_HOME)/);
    expect(text).toContain('dump settings {"label":"plain"}');
  });
});
