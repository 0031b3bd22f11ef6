import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { TwitchPeer } from '../twitchPeer.js';
import { launchChromium, skipBrowser } from './browser.js';

const CHANNEL = 'somestreamer';

describe.skipIf(skipBrowser)('manual approval in the control panel', () => {
  let peer: TwitchPeer;
  let d: DaemonProcess;
  let browser: BrowserContext;
  let panel: Page;

  beforeAll(async () => {
    peer = await TwitchPeer.start('oauth:testtoken');
    d = await startDaemonProcess(testConfig({
      outputs: ['server', 'twitch'],
      twitch: { channel: CHANNEL, botName: 'cocasterbot', token: 'oauth:testtoken', server: peer.url, manualApproval: true, userCooldownS: 0 },
    }));
    await until(() => (peer.joins.length > 0 ? true : undefined), 'the bot to join', 30_000);
    browser = await launchChromium();
    panel = await browser.newPage();
    await panel.goto(`${d.base}/#token=${d.tokens.control}`);
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await d?.stop();
    await peer?.close();
  });

  it('lists held chat questions; Approve sends one to the model, Reject drops the other', async () => {
    peer.chat(CHANNEL, { login: 'ann', displayName: 'Ann', text: '!ask who is winning?' });
    peer.chat(CHANNEL, { login: 'bob', displayName: 'Bob', text: '!ask buy my stuff' });
    const items = panel.locator('[data-testid=pending] li');
    await until(async () => ((await items.count()) === 2 ? true : undefined), 'two held questions in the panel');
    await items.filter({ hasText: 'Ann' }).getByRole('button', { name: 'Approve' }).click();
    await items.filter({ hasText: 'Bob' }).getByRole('button', { name: 'Reject' }).click();
    await until(async () => ((await items.count()) === 0 ? true : undefined), 'the held list to empty');
    const users = await until(async () => {
      const r = await rawRequest(d.port, 'GET', '/api/transcript?limit=100', { Authorization: `Bearer ${d.tokens.overlay}` });
      const lines = (JSON.parse(r.body) as { lines: Array<{ role: string; text: string; asker: string | null }> }).lines.filter((l) => l.role === 'user');
      return lines.length ? lines : undefined;
    }, 'the approved question in the transcript');
    expect(users.map((l) => [l.asker, l.text])).toEqual([['Ann', 'who is winning?']]);
  }, 90_000);
});
