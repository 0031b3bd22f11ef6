/**
 * The control panel's screenshots in docs/: the full panel at 1280x800 and the OBS
 * dock at 360 px wide, on the demo source with the default model (so the transcript
 * reads like commentary). A past session, a question and a short pause give every
 * part of the panel something to show.
 *   npx tsx scripts/panel-screenshots.ts [outDir=docs]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { rawRequest, startDaemonProcess, type DaemonProcess } from '../test/daemonHarness.js';
import { launchChromium } from '../test/e2e/browser.js';
import { tempDir } from '../test/helpers.js';

const outDir = process.argv[2] ?? 'docs';
const config = { ep: 'cpu', server: { port: 0 } };
const configDir = tempDir('cocaster-shots-');

const post = (d: DaemonProcess, path: string, body: unknown) =>
  rawRequest(d.port, 'POST', path, { Authorization: `Bearer ${d.tokens.control}`, 'Content-Type': 'application/json' }, JSON.stringify(body));

// A short earlier run: the session list then has a finished session too.
const past = await startDaemonProcess(config, configDir);
await sleep(20_000);
await past.stop();

const d = await startDaemonProcess(config, configDir);
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.goto(`${d.base}/#token=${d.tokens.control}`);
  await sleep(25_000);
  await post(d, '/api/ask', { text: 'What is happening on screen?', asker: 'Alice' });
  await sleep(10_000);
  await post(d, '/api/pause', {});
  await sleep(6_000);
  await post(d, '/api/resume', {});
  await sleep(20_000);
  await page.getByTestId('sessions').locator('summary').click();
  await page.locator('[data-testid=session]').first().waitFor();
  await page.screenshot({ path: join(outDir, 'panel-1280x800.png') });
  // The dock's whole height, at exactly 360 px: a tall viewport rather than fullPage,
  // which sizes the capture from Chromium's content metrics, not the page's width.
  await page.setViewportSize({ width: 360, height: 800 });
  await sleep(1_000);
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 360, height });
  await sleep(500);
  await page.screenshot({ path: join(outDir, 'panel-dock-360.png') });
  console.log(JSON.stringify({ written: [join(outDir, 'panel-1280x800.png'), join(outDir, 'panel-dock-360.png')] }));
} finally {
  await browser.close();
  await d.stop();
}
