/**
 * The control panel over a long stream: the daemon plays the demo video with the
 * `fast` source (hours of stream in minutes; the fixture model talks on nearly every
 * frame), the panel stays open in Chromium, and every 1200 frames it received (10
 * minutes of a 2 fps stream) its JS heap is read through the DevTools protocol, twice:
 * after a forced GC while events keep pouring in ("live": messages the page has yet to
 * handle count too, so it swings), and "settled": commentary paused until the page has
 * handled everything queued, GC, read, resumed (a short shaded span on the chart).
 * While paused a heap snapshot also gives the reachable heap (no garbage at all).
 * Stream time is counted in frames the panel received, so the frames a fast source skips
 * during those pauses do not count. Prints one JSON object; `pass` is reachable
 * heap(end) ≤ 1.5 × reachable heap(10 min).
 *   npx tsx scripts/panel-heap.ts [hours=2]
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CDPSession, Page } from 'playwright-core';
import { rawRequest, startDaemonProcess, testConfig, type DaemonProcess } from '../test/daemonHarness.js';
import { launchChromium } from '../test/e2e/browser.js';
import { ROOT } from '../test/helpers.js';

const hours = Number(process.argv[2] ?? 2);
const STEP_S = 600;
const endS = hours * 3600;

/** Counts the panel's websocket opens (a reconnect would mean the page fell behind)
 * and the frame events it received (a string test: no second JSON.parse per message). */
const COUNTERS = `(() => {
  window.__opens = 0;
  window.__frames = 0;
  const NativeWS = window.WebSocket;
  window.WebSocket = class extends NativeWS {
    constructor(...args) {
      super(...args);
      this.addEventListener('open', () => window.__opens++);
      this.addEventListener('message', (e) => { if (e.data.includes('"type":"frame"')) window.__frames++; });
    }
  };
})();`;
const FPS = 2;

interface Sample {
  streamS: number;
  wallS: number;
  heapLiveMB: number;
  heapSettledMB: number;
  /** Reachable objects in a heap snapshot taken while paused. */
  heapReachableMB: number;
  /** How long the page took to handle what it had queued once commentary paused. */
  drainedInMs: number;
  domNodes: number;
  listeners: number;
  chartPoints: number;
  websocketOpens: number;
}

const framesReceived = (page: Page) => page.evaluate(() => (window as unknown as { __frames: number }).__frames);

/** Waits until no frame has reached the page for 1.5 s (what the socket had queued is
 * handled: on a starved CPU the page can lag by seconds) and 1 s more for the last
 * batch and its garbage; returns how long that took. */
async function drained(page: Page): Promise<number> {
  const start = Date.now();
  let last = -1;
  let quietSince = Date.now();
  for (;;) {
    const now = await framesReceived(page);
    if (now !== last) quietSince = Date.now();
    else if (Date.now() - quietSince >= 1500) break;
    last = now;
    await sleep(100);
  }
  await sleep(1000);
  return Date.now() - start;
}

const mb = (bytes: number) => Math.round((bytes / 2 ** 20) * 100) / 100;

/** What a heap snapshot holds: only objects still reachable (the snapshot collects
 * garbage first), so unswept garbage and lazily freed pages cannot blur the figure. */
async function reachableHeap(cdp: CDPSession): Promise<number> {
  const chunks: string[] = [];
  const onChunk = (e: { chunk: string }) => void chunks.push(e.chunk);
  cdp.on('HeapProfiler.addHeapSnapshotChunk', onChunk);
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  cdp.off('HeapProfiler.addHeapSnapshotChunk', onChunk);
  const snap = JSON.parse(chunks.join('')) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
  const fields = snap.snapshot.meta.node_fields;
  const size = fields.indexOf('self_size');
  let total = 0;
  for (let i = size; i < snap.nodes.length; i += fields.length) total += snap.nodes[i]!;
  return total;
}

async function heapAfterGc(cdp: CDPSession): Promise<number> {
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.collectGarbage');
  return (await cdp.send('Runtime.getHeapUsage')).usedSize;
}

async function measure(cdp: CDPSession, page: Page, d: DaemonProcess, streamS: number, startedAt: number): Promise<Sample> {
  const heapLive = await heapAfterGc(cdp);
  const control = { Authorization: `Bearer ${d.tokens.control}` };
  await rawRequest(d.port, 'POST', '/api/pause', control);
  const drainedInMs = await drained(page);
  const heapSettled = await heapAfterGc(cdp);
  const heapReachable = await reachableHeap(cdp);
  const { metrics } = await cdp.send('Performance.getMetrics');
  await rawRequest(d.port, 'POST', '/api/resume', control);
  const metric = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
  const chartPoints = Number(await page.getByTestId('decision-chart').getAttribute('data-points'));
  const websocketOpens = await page.evaluate(() => (window as unknown as { __opens: number }).__opens);
  return {
    streamS, wallS: Math.round((Date.now() - startedAt) / 1000), heapLiveMB: mb(heapLive), heapSettledMB: mb(heapSettled), heapReachableMB: mb(heapReachable), drainedInMs,
    domNodes: metric('Nodes'), listeners: metric('JSEventListeners'), chartPoints, websocketOpens,
  };
}

const d = await startDaemonProcess(testConfig({ source: `file:${join(ROOT, 'models/cocaster-tiny/demo.mp4')}`, fast: true }));
const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.addInitScript(COUNTERS);
  await page.goto(`${d.base}/#token=${d.tokens.control}`);
  await page.getByTestId('decision-chart').waitFor();
  const cdp = await browser.newCDPSession(page);
  await cdp.send('Performance.enable');
  const startedAt = Date.now();
  const streamTime = async () => (await framesReceived(page)) / FPS;
  const samples: Sample[] = [];
  for (let mark = STEP_S; mark <= endS; mark += STEP_S) {
    while ((await streamTime()) < mark) await sleep(250);
    samples.push(await measure(cdp, page, d, mark, startedAt));
    console.error(JSON.stringify(samples.at(-1)));
  }
  const first = samples[0]!;
  const last = samples.at(-1)!;
  const ratio = Math.round((last.heapReachableMB / first.heapReachableMB) * 1000) / 1000;
  console.log(JSON.stringify({ hours, speedup: Math.round((last.streamS / last.wallS) * 10) / 10, ratio, pass: ratio <= 1.5, samples }));
} finally {
  await browser.close();
  await d.stop();
}
