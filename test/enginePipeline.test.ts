import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FramePipeline, LiveModel, LiveSession, type EngineEvent } from '../src/engine/index.js';
import { readLogits } from '../src/engine/liveSession.js';
import { syntheticFrame } from '../src/engine/syntheticFrame.js';
import { silentLogger } from '../src/util/log.js';
import { COMPACT_FIXTURE, collect } from './helpers.js';

/** The softmax-then-argmax the engine computed before readLogits (kept here as the spec). */
function reference(logits: Float32Array, intervalId: number, threshold: number) {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  const probs = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += probs[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < probs.length; i++) probs[i]! /= sum;
  const pInterval = probs[intervalId]!;
  if (pInterval < threshold) probs[intervalId] = 0;
  let next = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i]! > probs[next]!) next = i;
  return { pInterval, next };
}

describe('readLogits', () => {
  it('gives the softmax P(interval) bit for bit and its decision, ties and all', () => {
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 20 - 10;
    for (let trial = 0; trial < 300; trial++) {
      const logits = Float32Array.from({ length: 50 }, rand);
      if (trial % 3 === 0) logits[7] = logits[3]!; // a tie
      if (trial % 5 === 0) logits.fill(logits[0]!); // all equal
      const interval = trial % 4 === 0 ? 0 : 3;
      for (const threshold of [0, 0.3, 0.9, 1]) {
        const { pInterval, best, bestOther } = readLogits(logits, interval);
        const want = reference(logits, interval, threshold);
        expect(pInterval).toBe(want.pInterval);
        expect(pInterval < threshold ? bestOther : best).toBe(want.next);
      }
    }
  });
});

describe('one frame in flight (FramePipeline)', () => {
  let model: LiveModel;
  beforeAll(async () => {
    model = await LiveModel.load(COMPACT_FIXTURE, { ep: 'cpu', logger: silentLogger });
  }, 60_000);
  afterAll(async () => model.release());

  async function run(pipelined: boolean, framesPerStep = 1): Promise<EngineEvent[]> {
    const { events, listener } = collect();
    const session = new LiveSession(model, listener, { threshold: 0.5, maxNewTokens: 4 });
    session.ask(20.2, 'what now?');
    const { width, height, fps } = model.manifest.vision;
    const pipeline = new FramePipeline(session, framesPerStep);
    for (let k = 0; k < 120; k++) {
      const frame = { t: k / fps, rgb: syntheticFrame(k, width, height) };
      if (pipelined) await pipeline.push(frame);
      else await session.pushFrame(frame);
      // Asked while frame k is in flight (after it in video time, so both runs answer it at frame k+1).
      if (k === 70) session.ask((k + 0.5) / fps, 'and now?');
    }
    await pipeline.drain();
    await session.finish(120 / fps);
    return events;
  }

  it('gives the events of a frame-by-frame run, compactions and answers included', async () => {
    const serial = await run(false);
    expect(serial.filter((e) => e.type === 'compaction').length).toBeGreaterThan(0);
    expect(serial.filter((e) => e.type === 'say').length).toBeGreaterThan(0);
    expect(await run(true)).toEqual(serial);
  }, 120_000);

  it('gives them too with the frames that wait sharing decoder runs (model.framesPerStep)', async () => {
    expect(model.framesPerStep).toBeGreaterThan(1);
    const serial = await run(false);
    const batched = await run(true, model.framesPerStep);
    // A frame decided in a shared run attends to the frames before it as new positions,
    // not cached ones: the sums group differently, so P(interval) may move in the last bits.
    const p = (events: EngineEvent[]) => events.flatMap((e) => (e.type === 'frame' ? [e.pInterval] : []));
    const strip = (events: EngineEvent[]) => events.map((e) => (e.type === 'frame' ? { ...e, pInterval: 0 } : e));
    expect(strip(batched)).toEqual(strip(serial));
    const [a, b] = [p(batched), p(serial)];
    expect(a.length).toBe(b.length);
    expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeLessThan(1e-5);
  }, 120_000);

  it('reports an error of the frame before on the next push, and the session goes on', async () => {
    const failing = new LiveSession(model, () => undefined);
    const pipeline = new FramePipeline(failing);
    await pipeline.push({ t: 0, rgb: new Uint8Array(5) }); // wrong size: fails in the vision thread
    await expect(pipeline.push({ t: 0.5, rgb: syntheticFrame(1, model.manifest.vision.width, model.manifest.vision.height) })).rejects.toThrow(/expected/);
    await pipeline.drain();
    expect(failing.contextLength).toBeGreaterThan(0);
  }, 60_000);
});
