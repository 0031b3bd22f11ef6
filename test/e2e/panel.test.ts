import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionSummary, TranscriptLine } from '../../src/protocol/index.js';
import { rawRequest, startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { ffmpegPath } from '../../src/capture/ffmpeg.js';
import { ROOT, runCli, tempDir } from '../helpers.js';
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

/** The chart and the recorder in one evaluate. The panel applies events in batches
 * (every 100 ms), so the chart may be one batch behind the recorder at any instant. */
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

const get = async <T>(d: DaemonProcess, path: string, token = d.tokens.overlay): Promise<T> => {
  const r = await rawRequest(d.port, 'GET', path, { Authorization: `Bearer ${token}` });
  if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body}`);
  return JSON.parse(r.body) as T;
};

/** A short test-pattern video in a folder with a long name: a session recorded from
 * it has a long unbreakable source, as real paths are (the dock must cut it). */
function longNamedVideo(): string {
  const dir = join(tempDir('cocaster-panel-video-'), 'a-recordings-folder-with-a-rather-long-name-as-people-have-them-2026-12-02');
  mkdirSync(dir);
  const file = join(dir, 'stream-2026-12-02_20-15-33-final-final.mp4');
  execFileSync(ffmpegPath(), ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=96x96:rate=2:duration=4', '-pix_fmt', 'yuv420p', file]);
  return file;
}

/** A daemon run that left a finished session with a few spoken lines in `configDir`. */
async function recordPastSession(config: Record<string, unknown>, configDir: string): Promise<void> {
  const past = await startDaemonProcess(config, configDir);
  await until(async () => ((await get<{ lines: TranscriptLine[] }>(past, '/api/transcript')).lines.filter((l) => l.role === 'assistant' && l.text).length >= 3 ? true : undefined), '3 spoken lines');
  await past.stop();
}

describe.skipIf(skipBrowser)('control panel: decision chart and sessions', () => {
  let d: DaemonProcess;
  let browser: BrowserContext;
  let panel: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    const configDir = tempDir('cocaster-panel-');
    await recordPastSession(testConfig({ source: `file:${longNamedVideo()}` }), configDir);
    // A plugin with a command; it would ask a question after askAfterFrames, which is never reached here.
    const plugin = { plugins: [join(ROOT, 'test/fixtures/plugins/good')], pluginSettings: { good: { askAfterFrames: 1_000_000 } } };
    d = await startDaemonProcess(testConfig(plugin), configDir);
    browser = await launchChromium();
    panel = await browser.newPage();
    panel.on('pageerror', (e) => pageErrors.push(e.message));
    await panel.setViewportSize({ width: 1280, height: 800 });
    await panel.addInitScript(EVENT_RECORDER);
    await panel.goto(`${d.base}/#token=${d.tokens.control}`);
    await panel.getByTestId('decision-chart').waitFor();
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await d?.stop();
  });

  it("plots a point per frame: the chart's data equals the frame events' P(interval)", async () => {
    // Frames come every 500 ms: between them the chart has caught up with the socket.
    const { chart, events } = await until(async () => {
      const s = await snapshot(panel);
      return s.events.frames.length >= 10 && s.chart.data.t.length === s.events.frames.length ? s : undefined;
    }, '10 frames on the chart');
    expect(chart.data.t).toEqual(events.frames.map((f) => f.t));
    expect(chart.data.p).toEqual(events.frames.map((f) => f.p));
    expect(Number(await panel.getByTestId('decision-chart').getAttribute('data-points'))).toBeGreaterThanOrEqual(10);
  }, 60_000);

  it('draws a spoken line as a marker at its time, on its frame', async () => {
    // The latest line with a marker: an early one may have scrolled off the chart on a busy machine.
    const drawnSay = (s: Awaited<ReturnType<typeof snapshot>>) => s.events.says.findLast((say) => s.chart.drawn.markers.some((m) => m.t === say.t));
    const { chart, events } = await until(async () => {
      const s = await snapshot(panel);
      return drawnSay(s) ? s : undefined;
    }, 'a spoken line on the chart');
    const say = drawnSay({ chart, events })!;
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

  it('shows health at a glance: colour-coded rows and fps/latency sparklines', async () => {
    const health = panel.getByTestId('health');
    expect(await health.getByTestId('source').getAttribute('data-level')).toBe('ok');
    expect(await health.getByTestId('link').getAttribute('data-level')).toBe('ok');
    expect(await health.getByTestId('model').textContent()).toContain('tiny-random on cpu');
    expect(await health.getByTestId('obs').count()).toBe(0); // the demo source has no OBS
    // A sparkline needs two status samples (one every 2 s).
    await until(async () => ((await health.locator('[data-testid=fps] polyline').getAttribute('points'))?.split(' ').length ?? 0) >= 2 || undefined, 'an fps sparkline');
  }, 30_000);

  it("lists the plugins with their state; a command's button runs it in the plugin", async () => {
    const good = panel.locator('[data-testid=plugin][data-plugin-id=good]');
    await good.waitFor();
    await until(async () => ((await good.getAttribute('data-state')) === 'active' ? true : undefined), 'the plugin active');
    expect(await panel.getByTestId('plugins').locator('li').count()).toBe(1);
    expect(await good.textContent()).toContain('1.0.0');
    await good.getByRole('button', { name: 'Say hello' }).click();
    await until(() => d.stderr().includes('plugin good: hello command') || undefined, 'the command to run in the plugin', 10_000);
    expect(await panel.getByRole('alert').count()).toBe(0); // no error shown
  }, 30_000);

  it('lists past sessions; the SRT download equals `cocaster captions` for that session', async () => {
    await panel.getByTestId('sessions').locator('summary').click();
    const past = panel.locator('[data-testid=session][data-session-id="1"]');
    await past.waitFor();
    expect(await panel.locator('[data-testid=session]').count()).toBe(2);
    expect(await panel.locator('[data-testid=session]').first().getAttribute('data-session-id')).toBe('2'); // newest first
    const [download] = await Promise.all([panel.waitForEvent('download'), past.getByTestId('download-srt').click()]);
    expect(download.suggestedFilename()).toBe('cocaster-session-1.srt');
    const file = readFileSync((await download.path())!, 'utf8');
    const cli = await runCli(['captions', '--session', '1', '--config', join(d.configDir, 'config.json')], { COCASTER_CONFIG_DIR: d.configDir });
    expect(cli.code).toBe(0);
    expect(file).toBe(cli.stdout);
    expect(file).toMatch(/^1\n00:00:\d\d,\d{3} --> /); // not empty: the past session spoke
  }, 60_000);

  it('serves captions as an attachment to any token, refuses without one', async () => {
    const ok = await rawRequest(d.port, 'GET', '/api/sessions/1/captions?format=vtt', { Authorization: `Bearer ${d.tokens.overlay}` });
    expect(ok.status).toBe(200);
    expect(ok.body.startsWith('WEBVTT\n\n')).toBe(true);
    const head = await new Promise<string>((res) => {
      void import('node:http').then(({ get }) => get({ host: '127.0.0.1', port: d.port, path: '/api/sessions/1/captions?format=srt', headers: { Authorization: `Bearer ${d.tokens.overlay}` } }, (r) => {
        res(String(r.headers['content-disposition']));
        r.resume();
      }));
    });
    expect(head).toMatch(/^attachment; filename="?cocaster-session-1\.srt"?$/);
    expect((await rawRequest(d.port, 'GET', '/api/sessions/1/captions')).status).toBe(401);
    expect((await rawRequest(d.port, 'GET', '/api/sessions/1/captions?format=txt', { Authorization: `Bearer ${d.tokens.overlay}` })).status).toBe(400);
    expect((await rawRequest(d.port, 'GET', '/api/sessions/99/captions', { Authorization: `Bearer ${d.tokens.overlay}` })).status).toBe(404);
  }, 30_000);

  it('searches the transcripts: the list and a session\'s transcript keep what contains the text', async () => {
    const { sessions } = await get<{ sessions: SessionSummary[] }>(d, '/api/sessions');
    expect(sessions.map((s) => [s.id, s.live])).toEqual([[2, true], [1, false]]);
    expect(sessions[1]!.endedAt).toBeGreaterThan(sessions[1]!.startedAt);
    const { lines } = await get<{ lines: TranscriptLine[] }>(d, '/api/sessions/1/transcript');
    expect(lines.length).toBe(sessions[1]!.lines);
    const word = lines.find((l) => l.role === 'assistant' && /\w{3,}/.test(l.text))!.text.match(/\w{3,}/)![0];
    const expected = lines.filter((l) => l.text.toLowerCase().includes(word.toLowerCase()));
    await panel.getByTestId('session-search').fill(word);
    const past = panel.locator('[data-testid=session][data-session-id="1"]');
    await until(async () => ((await past.textContent())?.includes(`${expected.length} matching`) ? true : undefined), 'the match count');
    await past.getByTestId('show-transcript').click();
    const shown = panel.getByTestId('session-transcript').locator('li');
    await until(async () => ((await shown.count()) === expected.length ? true : undefined), `${expected.length} matching lines`);
    expect(await shown.first().textContent()).toContain(expected[0]!.text);
    await panel.getByTestId('session-search').fill('no line says this zqxj');
    await until(async () => ((await panel.locator('[data-testid=session]').count()) === 0 ? true : undefined), 'an empty list');
  }, 60_000);

  it('fits a 360 px OBS dock: no horizontal scrolling, nothing past the right edge', async () => {
    await panel.setViewportSize({ width: 360, height: 800 });
    try {
      await panel.getByTestId('sessions').evaluate((el: HTMLDetailsElement) => void (el.open = true));
      await panel.getByTestId('session-search').fill('');
      // And an unbreakable question in the queue and the transcript.
      await panel.getByTestId('ask-text').fill(`Who${'o'.repeat(120)}?`);
      await panel.getByTestId('ask-submit').click();
      await panel.locator('[data-testid=session][data-session-id="1"]').getByTestId('show-transcript').click();
      await panel.getByTestId('session-transcript').locator('li').first().waitFor();
      // Let the chart's ResizeObserver and a status message through.
      await until(async () => ((await panel.locator('[data-testid=decision-chart] canvas').boundingBox())?.width ?? 999) <= 360 || undefined, 'the chart to shrink');
      const overflow = await panel.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const past = [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > width + 0.5 && getComputedStyle(el).visibility !== 'hidden')
          .map((el) => `${el.tagName.toLowerCase()}.${el.className}`);
        return { scroll: document.documentElement.scrollWidth, width, past };
      });
      expect(overflow.width).toBe(360);
      expect(overflow.past).toEqual([]);
      expect(overflow.scroll).toBeLessThanOrEqual(overflow.width);
    } finally {
      await panel.setViewportSize({ width: 1280, height: 800 });
    }
  }, 60_000);

  it('works from the keyboard: K pauses and resumes, / focuses the ask box, S the session search', async () => {
    await panel.locator('body').click({ position: { x: 5, y: 5 } });
    await panel.keyboard.press('k');
    await panel.getByTestId('resume').waitFor();
    expect(await panel.getByTestId('state').getAttribute('data-level')).toBe('warn');
    await panel.keyboard.press('k');
    await panel.getByTestId('pause').waitFor();
    await panel.keyboard.press('/');
    expect(await panel.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('ask-text');
    await panel.keyboard.type('k then enter');
    await panel.keyboard.press('Enter'); // typed, not a shortcut: the question is asked
    await until(async () => ((await panel.getByTestId('transcript').textContent())?.includes('k then enter') ? true : undefined), 'the typed question');
    expect(await panel.getByTestId('pause').count()).toBe(1); // 'k' in the field did not pause
    await panel.keyboard.press('Escape');
    await panel.keyboard.press('s');
    expect(await panel.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('session-search');
  }, 60_000);

  it('threw no error the whole time (an effect that re-triggers itself throws a few times a second)', () => {
    expect(pageErrors).toEqual([]);
  });
});
