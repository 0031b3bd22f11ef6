import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import { transcriptItems } from '../../plugin/src/viewState.js';
import { transcriptHtml } from '../../plugin/src/webview.js';
import type { TranscriptLine } from '../../src/protocol/index.js';
import { launchChromium, skipBrowser } from './browser.js';

const line = (t: number, role: 'user' | 'assistant', text: string, asker: string | null = null): TranscriptLine => ({
  sessionId: 1, t, wallMs: 1_000 + t, role, text, trigger: role === 'assistant' ? 'self' : null, asker, questionId: null,
});

/** The transcript view's page in Chromium, with VS Code's webview API stubbed as VS Code provides it. */
describe.skipIf(skipBrowser)('the VS Code transcript webview page', () => {
  let browser: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    page = await browser.newPage();
    await page.addInitScript(() => {
      const sent: unknown[] = [];
      Object.assign(window, { __sent: sent, acquireVsCodeApi: () => ({ postMessage: (m: unknown) => sent.push(m), getState: () => undefined, setState: () => undefined }) });
    });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // Served from a URL (not setContent) so the init script runs first, as VS Code's own does.
    await page.route('http://webview.test/', (route) => route.fulfill({ contentType: 'text/html', body: transcriptHtml('abc123', 'vscode-webview://x') }));
    await page.goto('http://webview.test/');
    expect(errors).toEqual([]);
  }, 60_000);

  afterAll(() => browser?.close());

  it('tells the extension it is ready, then renders lines in order, escaping their text', async () => {
    expect(await page.evaluate(() => (window as unknown as { __sent: unknown[] }).__sent)).toEqual([{ type: 'ready' }]);
    const items = transcriptItems([line(3, 'user', 'Who leads?', 'ana'), line(65, 'assistant', '<b>Red</b> leads & <script>x</script>')]);
    await page.evaluate((items) => window.postMessage({ type: 'lines', items }, '*'), items);
    await page.waitForSelector('.line.assistant');
    const rows = await page.$$eval('.line', (els) => els.map((e) => ({ cls: e.className, text: e.textContent })));
    expect(rows).toEqual([
      { cls: 'line user', text: '0:03ana:Who leads?' },
      { cls: 'line assistant', text: '1:05cocaster:<b>Red</b> leads & <script>x</script>' },
    ]);
    expect(await page.$$eval('.line b, .line script', (els) => els.length)).toBe(0);
  });

  it('replaces the list on each update and shows the state line', async () => {
    await page.evaluate((items) => window.postMessage({ type: 'lines', items }, '*'), transcriptItems([line(1, 'assistant', 'only one')]));
    await page.evaluate(() => window.postMessage({ type: 'state', text: 'cocaster: paused · 2.0 fps · tiny-random' }, '*'));
    await page.waitForFunction(() => document.querySelectorAll('.line').length === 1);
    expect(await page.textContent('#state')).toBe('cocaster: paused · 2.0 fps · tiny-random');
    expect(await page.textContent('.line')).toBe('0:01cocaster:only one');
  });
});
