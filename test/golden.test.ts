import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { LiveSession, type EngineEvent, type ExecutionProvider, type LiveModel } from '../src/engine/index.js';
import { Layout } from '../src/engine/layout.js';
import { syntheticFrame } from '../src/engine/syntheticFrame.js';
import { COMPACT_FIXTURE, FIXTURE, SIDE_FIXTURE, collect, loadFixture, tempDir } from './helpers.js';

interface GoldenFrame { type: 'frame'; t: number; pInterval: number; decision: string }
interface GoldenSay { type: 'say'; t: number; trigger: string; question: string | null; ids: number[] }
interface GoldenCompaction { type: 'compaction'; t: number; evictedFrameTokens: number; evictedTextTokens: number; keptTokens: number }
interface GoldenReset { type: 'contextReset'; t: number; droppedTokens: number }
interface GoldenRun { maxNewTokens: number; trace: Array<GoldenFrame | GoldenSay | GoldenCompaction | GoldenReset> }
/** What a replay needs: the frames' timing and size, the threshold, the questions, the runs. */
interface GoldenStream {
  frames: { count: number; fps: number; width: number; height: number };
  threshold: number;
  questions: Array<{ t: number; text: string }>;
  runs: GoldenRun[];
}
interface Golden extends GoldenStream {
  queryIds: number[][];
  startIds: number[];
}
interface SceneCutGolden extends GoldenStream {
  sceneCut: { tokens: number[]; minCosine: number };
  frames: GoldenStream['frames'] & { scenes: number[] };
}

// WebGPU runs where an adapter exists (CI: Mesa's lavapipe); REQUIRE_WEBGPU=1 makes its absence a failure.
const providers: ExecutionProvider[] = ['cpu', 'webgpu'];
// The compact fixture's budget (its maxContext, 512) is reached: its trace holds the cache policy's compactions.
const cases = [FIXTURE, SIDE_FIXTURE, COMPACT_FIXTURE].flatMap((dir) => providers.map((ep) => [basename(dir), ep, dir] as const));

describe.each(cases)('golden trace of %s on %s', (_name, ep, dir) => {
  const golden = JSON.parse(readFileSync(join(dir, 'golden.json'), 'utf8')) as Golden;
  let model: LiveModel | string = 'not loaded';
  afterAll(async () => {
    if (typeof model !== 'string') await model.release();
  });

  /** The loaded model. Without a WebGPU adapter (or a build without the
   * provider) the webgpu cases are skipped, unless REQUIRE_WEBGPU=1; any other
   * load error fails. */
  const loaded = (skip: TestContext['skip']): LiveModel => {
    if (typeof model !== 'string') return model;
    const missing = /adapter|not available on this machine/i.test(model);
    if (ep === 'webgpu' && missing && process.env.REQUIRE_WEBGPU !== '1') skip(`no WebGPU here (REQUIRE_WEBGPU=1 makes this a failure): ${model}`);
    throw new Error(`the fixture does not load on ${ep}: ${model}`);
  };

  beforeAll(async () => {
    model = await loadFixture(ep, dir);
  }, 120_000);

  it('loads', ({ skip }) => {
    expect(loaded(skip).provider).toBe(ep);
  });

  it('tokenizes the layout exactly as the Python reference', ({ skip }) => {
    const model = loaded(skip);
    const layout = new Layout(model.codec, model.manifest);
    expect([...layout.startIds]).toEqual(golden.startIds);
    golden.questions.forEach((q, i) => expect(layout.queryIds(q.text)).toEqual(golden.queryIds[i]));
  });

  // On the CPU frames that wait share decoder runs (model.framesPerStep): the trace must not change.
  const steps = ep === 'cpu' ? ['one frame', 'several frames'] : ['one frame'];
  const runs = golden.runs.flatMap((r) => steps.map((step) => [r.maxNewTokens, step, r] as const));
  it.for(runs)('reproduces decisions, P(interval) and token ids (cap %i, %s a step)', { timeout: 600_000 }, async ([_cap, step, run], { skip }) => {
    const model = loaded(skip);
    const { width, height } = golden.frames;
    const events = await replay(model, golden, run, step, (k) => syntheticFrame(k, width, height));
    expectTrace(events, run);
    if (dir === COMPACT_FIXTURE) expect(run.trace.filter((e) => e.type === 'compaction').length).toBeGreaterThanOrEqual(3);
    // The schedule covers all three question timings.
    expect(run.trace.filter((e) => e.type === 'say' && e.trigger === 'question')).toHaveLength(3);
    expect(run.trace.some((e) => e.type === 'frame' && e.decision === 'answer')).toBe(true);
  });
});

/** The scene-cut trace (scripts/scene_cut_golden.py): the compact fixture in a copy of
 * its package that declares vision.sceneCut, over frames of a few still scenes. */
describe.each(providers)('golden scene-cut trace of tiny-random-compact on %s', (ep) => {
  const golden = JSON.parse(readFileSync(join(COMPACT_FIXTURE, 'golden-scenecut.json'), 'utf8')) as SceneCutGolden;
  let model: LiveModel | string = 'not loaded';
  beforeAll(async () => {
    const dir = tempDir('cocaster-scenecut-');
    cpSync(COMPACT_FIXTURE, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { vision: Record<string, unknown> };
    manifest.vision.sceneCut = golden.sceneCut;
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    model = await loadFixture(ep, dir);
  }, 120_000);
  afterAll(async () => {
    if (typeof model !== 'string') await model.release();
  });

  const steps = ep === 'cpu' ? ['one frame', 'several frames'] : ['one frame'];
  it.for(steps)('drops the frames before each new scene where the reference does (%s a step)', { timeout: 600_000 }, async (step, { skip }) => {
    if (typeof model === 'string') {
      if (ep === 'webgpu' && /adapter|not available on this machine/i.test(model) && process.env.REQUIRE_WEBGPU !== '1') skip(`no WebGPU here: ${model}`);
      throw new Error(`the fixture does not load on ${ep}: ${model}`);
    }
    const { width, height, scenes } = golden.frames;
    const run = golden.runs[0]!;
    const events = await replay(model, golden, run, step, (k) => sceneFrame(k, scenes, width, height));
    expectTrace(events, run);
    // A cut at every scene start but the one after a scene too short to be cut from.
    const cutTimes = scenes.filter((k, i) => k > 0 && scenes[i - 1]! <= k - 4).map((k) => k / golden.frames.fps);
    const atCuts = events.filter((e) => e.type === 'compaction' && cutTimes.includes(e.t));
    expect(atCuts.map((e) => e.t)).toEqual(cutTimes);
  });
});

/** Pushes the golden's frames (one a step, or model.framesPerStep) with its questions. */
async function replay(model: LiveModel, golden: GoldenStream, run: GoldenRun, step: string, frameAt: (k: number) => Uint8Array): Promise<EngineEvent[]> {
  const { events, listener } = collect();
  const session = new LiveSession(model, listener, { threshold: golden.threshold, maxNewTokens: run.maxNewTokens });
  for (const q of golden.questions) session.ask(q.t, q.text);
  const { count, fps } = golden.frames;
  const perStep = step === 'one frame' ? 1 : model.framesPerStep;
  if (step === 'several frames') expect(perStep).toBeGreaterThan(1);
  for (let k = 0; k < count; k += perStep) {
    const ks = Array.from({ length: Math.min(perStep, count - k) }, (_, j) => k + j);
    await session.pushFrames(ks.map((j) => ({ t: j / fps, rgb: frameAt(j) })));
  }
  // On WebGPU the KV cache must stay on the device between steps.
  expect(session.kvCacheLocation).toBe(model.provider === 'webgpu' ? 'gpu-buffer' : 'cpu');
  return events;
}

/** Decisions, token ids and compactions exactly as the reference's; P(interval) within 1e-4. */
function expectTrace(events: EngineEvent[], run: GoldenRun): void {
  const frames = events.filter((e) => e.type === 'frame');
  const expectedFrames = run.trace.filter((e): e is GoldenFrame => e.type === 'frame');
  expect(frames.map((e) => [e.t, e.decision])).toEqual(expectedFrames.map((e) => [e.t, e.decision]));
  const worst = Math.max(...frames.map((e, i) => Math.abs(e.pInterval - expectedFrames[i]!.pInterval)));
  expect(worst).toBeLessThan(1e-4);

  const says = events.filter((e) => e.type === 'say');
  const expectedSays = run.trace.filter((e): e is GoldenSay => e.type === 'say');
  expect(says.map((e) => [e.t, e.trigger, e.tokenIds])).toEqual(expectedSays.map((e) => [e.t, e.trigger, e.ids]));
  // The cache policy evicts what the reference evicts, when it does; nothing starts over.
  const compactions = events.flatMap((e) => (e.type === 'compaction' ? [[e.t, e.evictedFrameTokens, e.evictedTextTokens, e.keptTokens]] : []));
  const expectedCompactions = run.trace.filter((e): e is GoldenCompaction => e.type === 'compaction');
  expect(compactions).toEqual(expectedCompactions.map((e) => [e.t, e.evictedFrameTokens, e.evictedTextTokens, e.keptTokens]));
  expect(events.filter((e) => e.type === 'contextReset')).toHaveLength(run.trace.filter((e) => e.type === 'contextReset').length);
  expect(events.some((e) => e.type === 'contextReset')).toBe(false);
}

/** scene_frame of scripts/scene_cut_golden.py, byte for byte: a still scene (a
 * synthetic frame) with a small white square moving over it. */
function sceneFrame(k: number, scenes: number[], width: number, height: number): Uint8Array {
  const scene = scenes.findLastIndex((start) => start <= k);
  const out = syntheticFrame(41 * scene + 5, width, height);
  const cx = (k * 3) % (width - 4);
  const cy = (k * 2) % (height - 4);
  for (let y = cy; y < cy + 4; y++) out.fill(255, (y * width + cx) * 3, (y * width + cx + 4) * 3);
  return out;
}
