import { existsSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
/** CI installs Chromium: there, a missing browser is a failure, not a skip. */
export const skipBrowser = !hasChromium && process.env.REQUIRE_BROWSER !== '1';

/** A fresh profile each run, as Chromium would otherwise share state between
 * tests; removed when the context closes so test runs do not pile up in /tmp. */
export async function launchChromium(): Promise<BrowserContext> {
  if (!hasChromium) throw new Error(`REQUIRE_BROWSER=1 but no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  const profile = mkdtempSync(join(tmpdir(), 'cocaster-chromium-'));
  // Chromium may still be flushing the profile as it exits, hence the retries.
  const removeProfile = () => rm(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    viewport: { width: 1920, height: 1080 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  }).catch(async (e: unknown) => {
    await removeProfile();
    throw e;
  });
  const close = context.close.bind(context);
  context.close = async (options) => {
    await close(options);
    await removeProfile();
  };
  return context;
}

/** Pixels of a PNG at the given points, decoded by the browser itself. */
export async function pixelsAt(page: Page, png: Buffer, points: Array<[number, number]>): Promise<Array<[number, number, number, number]>> {
  return page.evaluate(
    async ({ b64, points }) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      return points.map(([x, y]) => Array.from(ctx.getImageData(x, y, 1, 1).data) as [number, number, number, number]);
    },
    { b64: png.toString('base64'), points },
  );
}

/** Installed before the overlay's scripts: records, in the page's clock, each
 * caption text's successive values and when a caption starts fading and leaves,
 * plus the `at` stamps of speechStart/speechDelta messages it receives. */
export const RECORDER = `(() => {
  const now = () => performance.timeOrigin + performance.now();
  const rec = window.__rec = { texts: [], fades: [], starts: [], firstDeltas: [], firstChars: [] };
  const NativeWS = window.WebSocket;
  window.WebSocket = class extends NativeWS {
    constructor(...args) {
      super(...args);
      let open = false;
      this.addEventListener('message', (e) => {
        const m = JSON.parse(e.data);
        if (m.kind !== 'event') return;
        if (m.event.type === 'speechStart') { rec.starts.push(m.at); open = true; }
        if (m.event.type === 'speechDelta' && open) { rec.firstDeltas.push(m.at); open = false; }
      });
    }
  };
  const seen = new WeakMap();
  let paired = 0;
  new MutationObserver(() => {
    const t = now();
    document.querySelectorAll('[data-testid=caption]').forEach((el) => {
      const textEl = el.querySelector('[data-testid=caption-text]');
      const text = textEl ? textEl.textContent : '';
      let s = seen.get(el);
      if (!s) { s = { id: rec.texts.length, values: [], fadingAt: null }; seen.set(el, s); rec.texts.push(s.values); }
      if (text && s.values.at(-1)?.text !== text) {
        if (s.values.length === 0 && rec.starts.length > paired) { rec.firstChars.push({ start: rec.starts[rec.starts.length - 1], delta: rec.firstDeltas[rec.starts.length - 1] ?? null, dom: t }); paired = rec.starts.length; }
        s.values.push({ text, t });
      }
      if (el.classList.contains('fading') && s.fadingAt === null) { s.fadingAt = t; rec.fades.push({ id: s.id, finalAt: s.values.at(-1)?.t ?? null, fadingAt: t, goneAt: null }); s.fade = rec.fades.at(-1); }
    });
    for (const f of rec.fades) if (f.goneAt === null && ![...document.querySelectorAll('[data-testid=caption]')].some((el) => seen.get(el)?.id === f.id)) f.goneAt = t;
  }).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['class'] });
})();`;

export interface Recording {
  texts: Array<Array<{ text: string; t: number }>>;
  fades: Array<{ id: number; finalAt: number | null; fadingAt: number; goneAt: number | null }>;
  firstChars: Array<{ start: number; delta: number | null; dom: number }>;
}

export const recording = (page: Page): Promise<Recording> => page.evaluate(() => (window as unknown as { __rec: Recording }).__rec);
