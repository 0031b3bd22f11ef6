/**
 * The control panel over a long stream: the daemon plays the demo video with the
 * `fast` source (hours of stream in minutes; the fixture model talks on nearly every
 * frame), the panel stays open in Chromium, and its JS heap (after a forced GC, read
 * through the DevTools protocol) is sampled every 10 minutes of stream time. Prints one
 * JSON object; `pass` is heap(end) ≤ 1.5 × heap(10 min).
 *   npx tsx scripts/panel-heap.ts [hours=2]
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CDPSession, Page } from 'playwright-core';
import type { DaemonStatus } from '../src/protocol/index.js';
import { rawRequest, startDaemonProcess, testConfig } from '../test/daemonHarness.js';
import { launchChromium } from '../test/e2e/browser.js';
import { ROOT } from '../test/helpers.js';

const hours = Number(process.argv[2] ?? 2);
const STEP_S = 600;
const endS = hours * 3600;

/** Counts the panel's websocket opens: a reconnect would mean the page fell behind. */
const COUNT_OPENS = `(() => {
  window.__opens = 0;
  const NativeWS = window.WebSocket;
  window.WebSocket = class extends NativeWS {
    constructor(...args) { super(...args); this.addEventListener('open', () => window.__opens++); }
  };
})();`;

interface Sample {
  streamS: number;
  wallS: number;
  heapUsedMB: number;
  domNodes: number;
  listeners: number;
  chartPoints: number;
  websocketOpens: number;
}

async function measure(cdp: CDPSession, page: Page, streamS: number, startedAt: number): Promise<Sample> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { usedSize } = await cdp.send('Runtime.getHeapUsage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
  const chartPoints = Number(await page.getByTestId('decision-chart').getAttribute('data-points'));
  const websocketOpens = await page.evaluate(() => (window as unknown as { __opens: number }).__opens);
  return {
    streamS, wallS: Math.round((Date.now() - startedAt) / 1000), heapUsedMB: Math.round((usedSize / 2 ** 20) * 100) / 100,
    domNodes: metric('Nodes'), listeners: metric('JSEventListeners'), chartPoints, websocketOpens,
  };
}

const d = await startDaemonProcess(testConfig({ source: `file:${join(ROOT, 'models/cocaster-tiny/demo.mp4')}`, fast: true }));
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.addInitScript(COUNT_OPENS);
  await page.goto(`${d.base}/#token=${d.tokens.control}`);
  await page.getByTestId('decision-chart').waitFor();
  const cdp = await browser.newCDPSession(page);
  await cdp.send('Performance.enable');
  const startedAt = Date.now();
  const streamTime = async () => (JSON.parse((await rawRequest(d.port, 'GET', '/api/status', { Authorization: `Bearer ${d.tokens.overlay}` })).body) as DaemonStatus).videoTime;
  const samples: Sample[] = [];
  for (let mark = STEP_S; mark <= endS; mark += STEP_S) {
    while ((await streamTime()) < mark) await sleep(250);
    samples.push(await measure(cdp, page, mark, startedAt));
    console.error(JSON.stringify(samples.at(-1)));
  }
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const ratio = Math.round((last.heapUsedMB / first.heapUsedMB) * 1000) / 1000;
  console.log(JSON.stringify({ hours, speedup: Math.round((last.streamS / last.wallS) * 10) / 10, ratio, pass: ratio <= 1.5, samples }));
} finally {
  await browser.close();
  await d.stop();
}
