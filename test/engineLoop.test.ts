import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../src/bus/index.js';
import type { SourceFrame } from '../src/capture/index.js';
import { EngineLoop } from '../src/daemon/engineLoop.js';
import { LiveModel, LiveSession } from '../src/engine/index.js';
import { syntheticFrame } from '../src/engine/syntheticFrame.js';
import { silentLogger } from '../src/util/log.js';
import { COMPACT_FIXTURE } from './helpers.js';

async function* framesOf(count: number, size: number): AsyncGenerator<SourceFrame> {
  for (let k = 0; k < count; k++) yield { t: k / 2, capturedAt: Date.now(), rgb: syntheticFrame(k, size, size) };
}

describe('EngineLoop with several frames a step (--fast)', () => {
  let model: LiveModel;
  beforeAll(async () => {
    model = await LiveModel.load(COMPACT_FIXTURE, { ep: 'cpu', logger: silentLogger });
  }, 60_000);
  afterAll(() => model?.release());

  it('moves the video time with each decided frame, not at the end of its step', async () => {
    expect(model.framesPerStep).toBeGreaterThan(1);
    const bus = new EventBus(silentLogger);
    const session = new LiveSession(model, (e) => bus.publish(e), {});
    const loop = new EngineLoop(session, bus, model.framesPerStep);
    const frames = framesOf(12, model.manifest.vision.width);
    const done = loop.run(frames, await frames.next());
    // Subscribed after the loop's own listener: what a panel, chat or plugin would read.
    const seen: Array<[number, number]> = [];
    bus.on('frame', (e) => seen.push([e.t, loop.videoTime]));
    expect(await done).toBe(5.5);
    expect(seen).toHaveLength(12);
    for (const [t, videoTime] of seen) expect(videoTime).toBe(t);
  });
});
