import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activateWith, COMMANDS, OVERLAY_KEY, TOKEN_KEY, VIEW_ID, type Cocaster } from '../../plugin/src/controller.js';
import type { DaemonStatus, TranscriptLine } from '../../src/protocol/index.js';
import { testConfig, until } from '../daemonHarness.js';
import { freePort } from '../integration/obsHarness.js';
import { ROOT, tempDir } from '../helpers.js';
import { StandInUri, StandInWebviewView, standIn, type StandIn } from './standIn.js';

const MANIFEST = JSON.parse(readFileSync(join(ROOT, 'plugin/package.json'), 'utf8')) as {
  contributes: { commands: Array<{ command: string }>; configuration: { properties: Record<string, unknown> }; views: Record<string, Array<{ id: string }>> };
};

/** The extension, run through the stand-in, starts a real daemon and drives each command. */
describe('the VS Code extension against a real daemon (through the vscode stand-in)', () => {
  const configDir = tempDir('cocaster-vscode-');
  const workspace = tempDir('cocaster-ws-');
  let port: number;
  let vs: StandIn;
  let ext: Cocaster;
  let tokens: { control: string; overlay: string };
  const base = () => `http://127.0.0.1:${port}`;
  const api = async <T>(path: string) => (await (await fetch(`${base()}/api${path}`, { headers: { Authorization: `Bearer ${tokens.control}` } })).json()) as T;
  const status = () => api<DaemonStatus>('/status');
  const logLines = () => vs.channels.flatMap((c) => c.lines);

  beforeAll(async () => {
    port = await freePort();
    const config = join(configDir, 'config.json');
    writeFileSync(config, JSON.stringify(testConfig({ server: { port }, plugins: [join(ROOT, 'test/fixtures/plugins/good')] })));
    process.env.COCASTER_CONFIG_DIR = configDir;
    process.env.COCASTER_LOG = 'info';
    // Nothing listens on port 9: the configured URL is only used before the extension starts a daemon.
    vs = standIn({ 'cocaster.daemonUrl': 'http://127.0.0.1:9', 'cocaster.startCommand': `"${process.execPath}" "${join(ROOT, 'bin/cocaster.js')}" start --config "${config}"` }, workspace);
    ext = activateWith(vs.api, vs.context, 3_600_000);
  });

  afterAll(async () => {
    await ext?.dispose();
    for (const d of vs?.context.subscriptions ?? []) d.dispose();
  }, 30_000);

  it('registers exactly the commands and the view its package.json contributes', () => {
    expect([...vs.commands.keys()].sort()).toEqual([...COMMANDS].sort());
    expect(MANIFEST.contributes.commands.map((c) => c.command).sort()).toEqual([...COMMANDS].sort());
    expect(Object.values(MANIFEST.contributes.views).flat().map((v) => v.id)).toEqual([VIEW_ID]);
    expect(vs.views.has(VIEW_ID)).toBe(true);
    expect(Object.keys(MANIFEST.contributes.configuration.properties).sort()).toEqual(['cocaster.daemonUrl', 'cocaster.startCommand']);
  });

  it('the status bar says offline while no daemon runs', async () => {
    await ext.refresh();
    expect(vs.statusItems[0]!.text).toMatch(/cocaster: offline$/);
    expect(vs.statusItems[0]!.command).toBe('cocaster.openPanel');
  });

  it('cocaster.start runs the daemon; its first-start control token goes to SecretStorage', async () => {
    await vs.run('cocaster.start');
    expect(vs.errors).toEqual([]);
    tokens = JSON.parse(readFileSync(join(configDir, 'tokens.json'), 'utf8')) as typeof tokens;
    expect(vs.context.secrets.values.get(TOKEN_KEY)).toBe(tokens.control);
    expect(vs.context.secrets.values.get(OVERLAY_KEY)).toBe(`${base()}/overlay/?token=${tokens.overlay}`);
    await until(async () => ((await ext.refresh(), ext.status?.fps ?? 0) > 0 ? true : undefined), 'frames', 30_000);
    expect(vs.statusItems[0]!.text).toMatch(/^\$\(broadcast\) cocaster: live · \d+\.\d fps · tiny-random$/);
  }, 120_000);

  it('cocaster.pause and cocaster.resume', async () => {
    await vs.run('cocaster.pause');
    expect((await status()).paused).toBe(true);
    expect(vs.statusItems[0]!.text).toMatch(/cocaster: paused/);
    await vs.run('cocaster.resume');
    expect((await status()).paused).toBe(false);
    expect(vs.statusItems[0]!.text).toMatch(/cocaster: live/);
  });

  it('cocaster.setThreshold sets the talkativeness; the box refuses what is not 0..1', async () => {
    vs.answers.input.push('1.5');
    await vs.run('cocaster.setThreshold');
    expect((await status()).threshold).toBe(0.99);
    vs.answers.input.push('0.97');
    await vs.run('cocaster.setThreshold');
    expect(vs.inputBoxes.at(-1)!.value).toBe('0.99');
    expect((await status()).threshold).toBe(0.97);
  });

  it('cocaster.ask: the question reaches the model, which answers it', async () => {
    vs.answers.input.push('Who is winning?');
    await vs.run('cocaster.ask');
    const lines = await until(async () => {
      const l = (await api<{ lines: TranscriptLine[] }>('/transcript')).lines;
      const q = l.find((x) => x.role === 'user' && x.text === 'Who is winning?');
      return q && l.some((x) => x.role === 'assistant' && x.questionId === q.questionId) ? l : undefined;
    }, 'the answer', 30_000);
    expect(lines.length).toBeGreaterThan(1);
  });

  it('the transcript view gets the recorded lines, then live ones over the websocket (no poll)', async () => {
    const view = new StandInWebviewView();
    await vs.views.get(VIEW_ID)!.resolveWebviewView(view, { state: undefined }, { isCancellationRequested: false, onCancellationRequested: () => ({ dispose() {} }) });
    expect(view.webview.options.enableScripts).toBe(true);
    expect(view.webview.html).toMatch(/Content-Security-Policy.*script-src 'nonce-/);
    view.fromPage({ type: 'ready' });
    const posted = await until(() => view.posted.find((m) => (m as { type: string }).type === 'lines') as { items: Array<{ key: string; who: string; text: string }> } | undefined, 'lines posted', 10_000);
    expect(posted.items).toContainEqual(expect.objectContaining({ who: 'cocaster' }));
    expect(posted.items).toContainEqual({ key: expect.any(String), who: 'viewer', text: 'Who is winning?', time: expect.stringMatching(/^\d+:\d\d$/), role: 'user' });
    // The poll runs once an hour here: what arrives next comes from the feed, as it is spoken.
    const before = view.posted.length;
    const known = new Set(posted.items.map((i) => i.key));
    type Posted = { items?: Array<{ key: string; role: string }> };
    await until(() => view.posted.slice(before).some((m) => (m as Posted).items?.some((i) => i.role === 'assistant' && i.key !== 'speaking' && !known.has(i.key))) || undefined, 'a new spoken line in the view', 20_000);
    const growing = view.posted.slice(before).filter((m) => (m as { items?: Array<{ key: string }> }).items?.some((i) => i.key === 'speaking'));
    expect(growing.length).toBeGreaterThan(0); // a line being spoken shows before it is finished
  });

  it('cocaster.copyOverlayUrl puts a working overlay URL on the clipboard', async () => {
    await vs.run('cocaster.copyOverlayUrl');
    expect(vs.clipboard).toBe(`${base()}/overlay/?token=${tokens.overlay}`);
    expect((await fetch(vs.clipboard)).status).toBe(200);
  });

  it('cocaster.exportCaptions writes the chosen session as VTT and SRT through the save dialog', async () => {
    for (const [format, pick, head] of [['vtt', 1, /^WEBVTT\n/], ['srt', 0, /^1\n\d\d:\d\d:\d\d,\d{3} --> /]] as const) {
      const file = join(workspace, `out.${format}`);
      vs.answers.pick.push(0, pick);
      vs.answers.save.push(StandInUri.file(file));
      await vs.run('cocaster.exportCaptions');
      expect(vs.errors).toEqual([]);
      const text = readFileSync(file, 'utf8');
      expect(text).toMatch(head);
      expect(text).toContain(' --> ');
    }
  });

  it('cocaster.openPanel opens the control panel with the token in the fragment', async () => {
    await vs.run('cocaster.openPanel');
    expect(vs.opened.at(-1)!.toString()).toBe(`${base()}/#token=${tokens.control}`);
  });

  it('cocaster.runPluginCommand lists the daemon plugins\' commands and runs the one picked', async () => {
    vs.answers.pick.push(0);
    await vs.run('cocaster.runPluginCommand');
    expect(vs.errors).toEqual([]);
    expect(logLines()).toContain('ran good: good.hello');
    await until(() => logLines().includes('plugin good: hello command') || undefined, 'the plugin to run it', 10_000);
  });

  it('cocaster.setToken asks with a password box; a wrong token is reported, not thrown', async () => {
    vs.answers.input.push('not-the-token');
    await vs.run('cocaster.setToken');
    expect(vs.inputBoxes.at(-1)!.password).toBe(true);
    await vs.run('cocaster.pause');
    expect(vs.errors.at(-1)).toMatch(/refused the control token/);
    expect((await status()).paused).toBe(false);
    vs.answers.input.push(tokens.control);
    await vs.run('cocaster.setToken');
    await vs.run('cocaster.pause');
    expect((await status()).paused).toBe(true);
  });

  it('the control token never reaches settings, logs or messages', () => {
    const visible = [...logLines(), ...vs.info, ...vs.errors, ...[...vs.settings.values()].map(String), vs.statusItems[0]!.text, String(vs.statusItems[0]!.tooltip)];
    expect(logLines().some((l) => l.startsWith('control panel: '))).toBe(true); // the daemon's own lines were logged, redacted
    for (const line of visible) {
      expect(line).not.toContain(tokens.control);
      expect(line).not.toContain(tokens.overlay);
    }
    expect([...vs.settings.keys()].filter((k) => /token/i.test(k))).toEqual([]);
  });

  it('cocaster.stop stops the daemon it started; the status bar goes offline', async () => {
    await vs.run('cocaster.stop');
    await expect(fetch(`${base()}/api/status`)).rejects.toThrow();
    expect(vs.statusItems[0]!.text).toMatch(/cocaster: offline$/);
    await vs.run('cocaster.stop');
    expect(vs.info.at(-1)).toMatch(/not started from VS Code/);
  }, 30_000);
});
