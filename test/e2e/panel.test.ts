import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemonProcess, until, type DaemonProcess } from '../daemonHarness.js';
import { launchChromium, skipBrowser } from './browser.js';

/** Installed before the panel's scripts: every frame and say event the control socket delivers. */
const EVENT_RECORDER = `(() => {
  const rec = window.__events = { frames: [], says: [] };
  const NativeWS = window.WebSocket;
  window.WebSocket = class extends NativeWS {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        const m = JSON.parse(e.data);
        if (m.kind !== 'event') return;
        if (m.event.type === 'frame') rec.frames.push({ t: m.event.t, p: m.event.pInterval });
        if (m.event.type === 'say' && m.event.text) rec.says.push({ t: m.event.t, trigger: m.event.trigger });
      });
    }
  };
})();`;

interface ChartView {
  data: { t: number[]; p: number[]; self: Array<number | null>; question: Array<number | null> };
  drawn: { threshold: number; thresholdY: number; thresholdCanvasY: number; yTop: number; yBottom: number; markers: Array<{ t: number; kind: string; x: number; y: number }> };
}
interface Recorded {
  frames: Array<{ t: number; p: number }>;
  says: Array<{ t: number; trigger: string }>;
}

/** The chart and the recorder in one evaluate: both are updated by the same websocket message. */
const snapshot = (page: Page) =>
  page.evaluate(() => {
    const w = window as unknown as { __cocasterChart: ChartView; __events: Recorded };
    return { chart: w.__cocasterChart, events: structuredClone(w.__events) };
  });

/** Red pixels (the dashed threshold line) along a canvas row, in canvas pixels. */
const redPixelsAtRow = (page: Page, y: number) =>
  page.evaluate((y) => {
    const canvas = document.querySelector('[data-testid=decision-chart] canvas') as HTMLCanvasElement;
    const ctx = canvas.getContext('2d')!;
    // The line may straddle two rows (anti-aliased): the redder of the rows around y counts.
    const share = (row: number) => {
      const px = ctx.getImageData(0, row, canvas.width, 1).data;
      let red = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i]! > 120 && px[i]! > px[i + 1]! + 60 && px[i]! > px[i + 2]! + 60) red++;
      return red / canvas.width;
    };
    return Math.max(share(Math.floor(y)), share(Math.ceil(y)));
  }, y);

describe.skipIf(skipBrowser)('control panel: decision chart', () => {
  let d: DaemonProcess;
  let browser: BrowserContext;
  let panel: Page;

  beforeAll(async () => {
    d = await startDaemonProcess();
    browser = await launchChromium();
    panel = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await panel.addInitScript(EVENT_RECORDER);
    await panel.goto(`${d.base}/#token=${d.tokens.control}`);
    await panel.getByTestId('decision-chart').waitFor();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await d?.stop();
  });

  it("plots a point per frame: the chart's data equals the frame events' P(interval)", async () => {
    const { chart, events } = await until(async () => {
      const s = await snapshot(panel);
      return s.events.frames.length >= 10 ? s : undefined;
    }, '10 frames');
    expect(chart.data.t).toEqual(events.frames.map((f) => f.t));
    expect(chart.data.p).toEqual(events.frames.map((f) => f.p));
    expect(Number(await panel.getByTestId('decision-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(10);
  }, 60_000);

  it('draws a spoken line as a marker at its time, on its frame', async () => {
    const { chart, events } = await until(async () => {
      const s = await snapshot(panel);
      const say = s.events.says[0];
      return say && s.chart.drawn.markers.some((m) => m.t === say.t) ? s : undefined;
    }, 'a spoken line on the chart');
    const say = events.says[0]!;
    const marker = chart.drawn.markers.find((m) => m.t === say.t)!;
    expect(marker.kind).toBe(say.trigger);
    const frame = events.frames.find((f) => f.t === say.t)!;
    expect(marker.y).toBeCloseTo(chart.drawn.yBottom - frame.p * (chart.drawn.yBottom - chart.drawn.yTop), 3);
  }, 60_000);

  it('moves the threshold line with the slider while it is dragged', async () => {
    const slider = panel.getByTestId('threshold-slider');
    let previousRow: number | undefined;
    for (const value of [0.25, 0.75]) {
      await slider.evaluate((el: HTMLInputElement, v) => {
        el.value = String(v);
        el.dispatchEvent(new Event('input', { bubbles: true }));
      }, value);
      const { drawn } = await until(async () => {
        const s = await snapshot(panel);
        return s.chart.drawn.threshold === value ? s.chart : undefined;
      }, `the line at ${value}`);
      expect(drawn.thresholdY).toBeCloseTo(drawn.yBottom - value * (drawn.yBottom - drawn.yTop), 3);
      // The line is on the canvas: a dashed red row across most of the plot's width.
      expect(await redPixelsAtRow(panel, drawn.thresholdCanvasY)).toBeGreaterThan(0.3);
      if (previousRow !== undefined) expect(await redPixelsAtRow(panel, previousRow)).toBeLessThan(0.05); // and left its old place
      previousRow = drawn.thresholdCanvasY;
    }
  }, 60_000);
});
