import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startDaemonProcess, until, type DaemonProcess } from '../daemonHarness.js';
import { launchChromium, pixelsAt, recording, RECORDER, skipBrowser } from './browser.js';

const DISPLAY_S = 1.5;

describe.skipIf(skipBrowser)('overlay and control panel in Chromium', () => {
  let d: DaemonProcess;
  let browser: BrowserContext;
  let overlay: Page;

  /** An overlay page styled by its own URL query, as a streamer adds it in OBS. */
  async function openOverlay(query: string, { record = false } = {}): Promise<Page> {
    const page = await browser.newPage();
    if (record) await page.addInitScript(RECORDER);
    await page.goto(`${d.base}/overlay/?token=${d.tokens.overlay}&${query}`);
    return page;
  }

  beforeAll(async () => {
    d = await startDaemonProcess();
    browser = await launchChromium();
    overlay = await openOverlay(`position=top&align=left&font=Georgia&size=55&color=ff0000&bg=0000ff&maxLines=3&display=${DISPLAY_S}`, { record: true });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await d?.stop();
  });

  it('shows captions growing token by token', async () => {
    const norm = (v: { text: string }) => v.text.trim();
    const grown = await until(async () => {
      const rec = await recording(overlay);
      return rec.texts.find((values) => values.length >= 2 && norm(values[0]!).length < norm(values.at(-1)!).length) ?? undefined;
    }, 'a caption that grows');
    // Each rendered value extends the previous one: deltas append, nothing is redrawn.
    for (let i = 1; i < grown.length; i++) expect(norm(grown[i]!).startsWith(norm(grown[i - 1]!))).toBe(true);
  }, 90_000);

  it('fades a finished caption after the display time and removes it', async () => {
    // Its own page with room for many lines: the test daemon talks on nearly every frame,
    // and on the 3-line page a newer caption may push a finished one out before it fades.
    const page = await openOverlay(`size=20&maxLines=10&display=${DISPLAY_S}`, { record: true });
    const fade = await until(async () => (await recording(page)).fades.find((f) => f.goneAt !== null && f.finalAt !== null), 'a caption to fade and go');
    await page.close();
    // Timers never fire early, so this lower bound cannot flake; the upper one is the report's business.
    expect(fade.fadingAt - fade.finalAt!).toBeGreaterThanOrEqual(DISPLAY_S * 1000 - 50);
    expect(fade.goneAt!).toBeGreaterThan(fade.fadingAt);
  }, 90_000);

  it('applies the URL styling', async () => {
    const text = overlay.locator('[data-testid=caption-text]').first();
    await text.waitFor();
    // A caption can finish fading and leave the DOM mid-read (its computed style is then empty): read again.
    const style = await until(() => text.evaluate((el) => {
      if (!el.isConnected) return undefined;
      const s = getComputedStyle(el);
      const box = el.closest('[data-testid=caption]')!;
      return { fontSize: s.fontSize, color: s.color, font: s.fontFamily, bg: getComputedStyle(box).backgroundColor, top: box.getBoundingClientRect().top, left: box.getBoundingClientRect().left };
    }), 'a caption still on the page while its style is read');
    expect(style).toMatchObject({ fontSize: '55px', color: 'rgb(255, 0, 0)', bg: 'rgb(0, 0, 255)' });
    expect(style.font).toContain('Georgia');
    expect(style.top).toBeLessThan(540);
    expect(style.left).toBeLessThan(400);
  }, 60_000);

  it('has a transparent background', async () => {
    // Its own page with a long display time: on the shared page captions fade after 1.5 s,
    // so at any instant there may be none to find. The box is read before and after the
    // screenshot and kept only when unchanged, so the pixel sampled is the caption's.
    const page = await openOverlay('position=top&align=left&bg=0000ff&maxLines=3&display=600');
    const caption = page.locator('[data-testid=caption]').first();
    await caption.waitFor();
    const { box, shot } = await until(async () => {
      const before = await caption.boundingBox();
      const shot = await page.screenshot({ omitBackground: true });
      const after = await caption.boundingBox();
      const same = before && after && before.x === after.x && before.y === after.y && before.height === after.height;
      return same ? { box: before, shot } : undefined;
    }, 'a caption that holds still for one screenshot');
    const [corner, farCorner, inCaption] = await pixelsAt(page, shot, [[5, 1075], [1915, 1075], [Math.round(box.x + 4), Math.round(box.y + box.height / 2)]]);
    await page.close();
    expect(corner![3]).toBe(0);
    expect(farCorner![3]).toBe(0);
    expect(inCaption![3]).toBeGreaterThan(0); // the screenshot is not blank: the caption is drawn
  }, 60_000);

  it("the panel's slider sets the engine's threshold and its question box answers on the overlay", async () => {
    // The answer is read on a page that keeps captions for minutes, so it cannot fade between checks.
    const answers = await openOverlay('maxLines=10&display=600');
    const panel = await browser.newPage();
    await panel.goto(`${d.base}/#token=${d.tokens.control}`);
    expect(panel.url()).not.toContain(d.tokens.control); // the fragment is taken out of the address bar
    await panel.getByTestId('model').waitFor();
    const slider = panel.getByTestId('threshold-slider');
    await slider.evaluate((el: HTMLInputElement) => {
      el.value = '0.985';
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    });
    const auth = { Authorization: `Bearer ${d.tokens.overlay}` };
    await until(async () => JSON.parse((await rawRequest(d.port, 'GET', '/api/status', auth)).body).threshold === 0.985 || undefined, 'threshold 0.985');
    await panel.getByTestId('ask-name').fill('Alice');
    await panel.getByTestId('ask-text').fill('Who is winning?');
    await panel.getByTestId('ask-submit').click();
    const asker = answers.getByTestId('asker').filter({ hasText: 'Alice' });
    await asker.first().waitFor({ timeout: 60_000 });
    const caption = answers.locator('[data-testid=caption]', { has: asker });
    await expect.poll(async () => (await caption.first().getByTestId('caption-text').textContent())?.length ?? 0, { timeout: 30_000 }).toBeGreaterThan(0);
    expect(await caption.first().getByTestId('question').textContent()).toContain('Who is winning?');
    await expect.poll(async () => await panel.getByTestId('transcript').textContent(), { timeout: 30_000 }).toContain('Who is winning?');
    await Promise.all([answers.close(), panel.close()]);
  }, 120_000);

  it('measures speechStart → first caption character in the DOM (printed, not asserted)', async () => {
    const rec = await until(async () => {
      const r = await recording(overlay);
      return r.firstChars.length >= 40 ? r : undefined;
    }, '40 captions', 120_000);
    const stats = (xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
      return `median ${q(0.5).toFixed(1)} ms, p95 ${q(0.95).toFixed(1)} ms (n=${s.length})`;
    };
    const fromStart = rec.firstChars.map((c) => c.dom - c.start);
    const fromDelta = rec.firstChars.filter((c) => c.delta !== null).map((c) => c.dom - c.delta!);
    console.log(`[latency] speechStart -> first caption char in DOM: ${stats(fromStart)}`);
    console.log(`[latency] first speechDelta published -> first caption char in DOM: ${stats(fromDelta)}`);
    expect(fromStart.length).toBeGreaterThanOrEqual(40);
  }, 150_000);
});
