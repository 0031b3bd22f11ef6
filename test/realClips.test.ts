import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSource } from '../src/capture/index.js';
import { LiveModel, LiveSession } from '../src/engine/index.js';
import { silentLogger } from '../src/util/log.js';
import { MEDIA, ROOT, hasMedia } from './helpers.js';

const TINY = join(ROOT, 'models/cocaster-tiny');
const hasTiny = existsSync(join(TINY, 'model.json'));
const clips = hasMedia ? readdirSync(MEDIA).filter((f) => /\.(mp4|webm|mkv|mov)$/.test(f)) : [];

// The default model knows only its arena world: on anything else it must keep quiet.
describe.skipIf(!hasTiny || !hasMedia)('the default model on real clips it knows nothing about', () => {
  it.each(clips)('%s: runs at the default threshold and says at most 6 lines a minute', async (clip) => {
    const model = await LiveModel.load(TINY, { ep: 'cpu', logger: silentLogger });
    try {
      let lines = 0;
      let frames = 0;
      const session = new LiveSession(model, (e) => {
        if (e.type === 'say' && e.trigger === 'self') lines++;
      });
      for await (const frame of openSource(`file:${join(MEDIA, clip)}`, model.manifest.vision, { fast: true, loop: false }).frames()) {
        await session.pushFrame(frame);
        frames++;
      }
      const minutes = frames / model.manifest.vision.fps / 60;
      expect(frames).toBeGreaterThan(0);
      // Short clips: allow the one line a 6-per-minute rate rounds up to.
      expect(lines).toBeLessThanOrEqual(Math.max(1, Math.floor(6 * minutes)));
    } finally {
      await model.release();
    }
  }, 300_000);
});
