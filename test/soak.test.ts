import { describe, expect, it } from 'vitest';
import { COMPACT_FIXTURE, FIXTURE, runCli } from './helpers.js';

/** `cocaster soak` end to end: the real CLI, engine and ffmpeg source, on the small
 * fixtures (a looped test card stands in for a demo video). */
describe('cocaster soak', () => {
  it('runs ten minutes of video through the engine and reports compactions, resets and one block', async () => {
    const res = await runCli(['soak', '--model', COMPACT_FIXTURE, '--hours', '0.17', '--ep', 'cpu', '--json']);
    expect(res.code, res.stderr).toBe(0);
    const out = JSON.parse(res.stdout) as Record<string, unknown> & { blocks: Array<Record<string, number>> };
    expect(out).toMatchObject({ model: 'tiny-random-compact', executionProvider: 'cpu', contextBudget: 512, contextResets: 0 });
    expect(out.compactions).toBeGreaterThan(50); // 1,224 frames of 11 tokens through a 512-token budget
    expect(out.blocks).toHaveLength(1);
    const [block] = out.blocks;
    expect(block!.videoMinutes).toBe(10);
    expect(block!.fps).toBeGreaterThan(0);
    expect(block!.cpuFps).toBeGreaterThan(0);
    expect(block!.rssMb).toBeGreaterThan(block!.heapMb!);
    expect(block!.cacheTokens).toBeLessThanOrEqual(512);
  }, 240_000);

  it('starts over, as before, with a package that has no kv_shift graph', async () => {
    const res = await runCli(['soak', '--model', FIXTURE, '--hours', '0.01', '--context', '400', '--ep', 'cpu', '--json']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stderr).toMatch(/no kv_shift graph: the stream starts over/);
    const out = JSON.parse(res.stdout) as Record<string, number>;
    expect(out.compactions).toBe(0);
    expect(out.contextResets).toBeGreaterThan(0);
  }, 240_000);

  it('refuses a budget outside the model\'s range in one line, exit 2', async () => {
    const res = await runCli(['soak', '--model', COMPACT_FIXTURE, '--hours', '0.01', '--context', '40', '--ep', 'cpu']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n').at(-1)).toMatch(/^cocaster: context 40 is out of range for model tiny-random-compact: \d+-512 tokens$/);
  }, 240_000);
});
