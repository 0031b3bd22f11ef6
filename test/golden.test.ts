import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveSession, type ExecutionProvider, type LiveModel } from '../src/engine/index.js';
import { Layout } from '../src/engine/layout.js';
import { syntheticFrame } from '../src/engine/syntheticFrame.js';
import { FIXTURE, SIDE_FIXTURE, collect, loadFixture } from './helpers.js';

interface GoldenFrame { type: 'frame'; t: number; pInterval: number; decision: string }
interface GoldenSay { type: 'say'; t: number; trigger: string; question: string | null; ids: number[] }
interface Golden {
  frames: { count: number; fps: number; width: number; height: number };
  threshold: number;
  questions: Array<{ t: number; text: string }>;
  queryIds: number[][];
  startIds: number[];
  runs: Array<{ maxNewTokens: number; trace: Array<GoldenFrame | GoldenSay> }>;
}

// WebGPU runs where an adapter exists (CI: Mesa's lavapipe); REQUIRE_WEBGPU=1 makes its absence a failure.
const providers: ExecutionProvider[] = ['cpu', 'webgpu'];
const cases = [FIXTURE, SIDE_FIXTURE].flatMap((dir) => providers.map((ep) => [basename(dir), ep, dir] as const));

describe.each(cases)('golden trace of %s on %s', (_name, ep, dir) => {
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
  let model: LiveModel | string;
  afterAll(async () => {
    if (typeof model !== 'string') await model?.release();
  });

  it('loads', async () => {
    model = await loadFixture(ep, dir);
    if (typeof model === 'string' && ep === 'webgpu' && process.env.REQUIRE_WEBGPU !== '1') {
      console.warn(`webgpu golden skipped: ${model}`);
      return;
    }
    expect(typeof model === 'string' ? model : model.provider).toBe(ep);
  });

  it('tokenizes the layout exactly as the Python reference', () => {
    if (typeof model === 'string') return;
    const layout = new Layout(model.codec, model.manifest);
    expect([...layout.startIds]).toEqual(golden.startIds);
    golden.questions.forEach((q, i) => expect(layout.queryIds(q.text)).toEqual(golden.queryIds[i]));
  });

  it.each(golden.runs.map((r) => [r.maxNewTokens, r] as const))('reproduces decisions, P(interval) and token ids (cap %i)', async (_cap, run) => {
    if (typeof model === 'string') return;
    const { events, listener } = collect();
    const session = new LiveSession(model, listener, { threshold: golden.threshold, maxNewTokens: run.maxNewTokens });
    for (const q of golden.questions) session.ask(q.t, q.text);
    const { count, fps, width, height } = golden.frames;
    for (let k = 0; k < count; k++) await session.pushFrame({ t: k / fps, rgb: syntheticFrame(k, width, height) });
    // On WebGPU the KV cache must stay on the device between steps.
    expect(session.kvCacheLocation).toBe(ep === 'webgpu' ? 'gpu-buffer' : 'cpu');

    const frames = events.filter((e) => e.type === 'frame');
    const expectedFrames = run.trace.filter((e): e is GoldenFrame => e.type === 'frame');
    expect(frames.map((e) => [e.t, e.decision])).toEqual(expectedFrames.map((e) => [e.t, e.decision]));
    const worst = Math.max(...frames.map((e, i) => Math.abs(e.pInterval - expectedFrames[i]!.pInterval)));
    expect(worst).toBeLessThan(1e-4);

    const says = events.filter((e) => e.type === 'say');
    const expectedSays = run.trace.filter((e): e is GoldenSay => e.type === 'say');
    expect(says.map((e) => [e.t, e.trigger, e.tokenIds])).toEqual(expectedSays.map((e) => [e.t, e.trigger, e.ids]));
    // The schedule covers all three question timings.
    expect(expectedSays.filter((e) => e.trigger === 'question')).toHaveLength(3);
    expect(expectedFrames.some((e) => e.decision === 'answer')).toBe(true);
  }, 600_000);
});
