import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LiveModel, LiveSession } from '../src/engine/index.js';
import { syntheticFrame } from '../src/engine/syntheticFrame.js';
import { silentLogger } from '../src/util/log.js';
import { ROOT, collect, tempDir } from './helpers.js';

// Training runs on Debian's torch, which only /usr/bin/python3 sees (another python3 may come first on PATH).
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
const SCRIPTS = join(ROOT, 'scripts');

/** The import error when the Python modules are missing, '' when they import. */
function missingPython(modules: string): string {
  const r = spawnSync(PYTHON, ['-c', `import ${modules}`], { encoding: 'utf8' });
  return r.status === 0 ? '' : (r.stderr || r.error?.message || 'python3 failed').trim().split('\n').at(-1)!;
}

const noTorch = missingPython('torch, onnx, numpy, PIL');
// CI installs the training stack and sets REQUIRE_TRAINING=1, so a missing torch fails there instead of skipping.
const skipTraining = noTorch !== '' && process.env.REQUIRE_TRAINING !== '1';
const noArenaDeps = missingPython('numpy, PIL');

function python(args: string[], timeoutMs: number): { status: number | null; output: string } {
  const r = spawnSync(PYTHON, args, { cwd: SCRIPTS, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { status: r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

describe('training pipeline (scripts/train.py --smoke)', () => {
  it.skipIf(skipTraining)('trains every stage at tiny sizes and the engine runs the package it writes', async () => {
    expect(noTorch, 'torch and onnx must import in /usr/bin/python3 (python3-torch, python3-onnx)').toBe('');
    const work = tempDir('cocaster-train-');
    const run = python(['train.py', '--smoke', '--work', work], 280_000);
    expect(run.status, run.output.slice(-3000)).toBe(0);

    const model = await LiveModel.load(join(work, 'package'), { ep: 'cpu', logger: silentLogger });
    try {
      const { events, listener } = collect();
      const session = new LiveSession(model, listener);
      session.ask(1.25, 'What is the score?');
      const { fps, width, height } = model.manifest.vision;
      for (let k = 0; k < 6; k++) await session.pushFrame({ t: k / fps, rgb: syntheticFrame(k, width, height) });
      // One decision per frame (the frame that the question arrives before answers it) and an answer.
      expect(events.filter((e) => e.type === 'frame')).toHaveLength(6);
      expect(events.some((e) => e.type === 'say' && e.trigger === 'question')).toBe(true);
    } finally {
      await model.release();
    }
  }, 300_000);
});

describe('the shipped package re-exported from its own weights', () => {
  it.skipIf(skipTraining)('is byte-identical to the committed ONNX files (sha256 in model.json)', () => {
    const work = tempDir('cocaster-reexport-');
    const run = python(['train.py', '--from-package', join(ROOT, 'models/cocaster-tiny'), '--work', work, '--stages', 'export', '--out', join(work, 'pkg')], 120_000);
    expect(run.status, run.output.slice(-3000)).toBe(0);
    const manifest = JSON.parse(readFileSync(join(ROOT, 'models/cocaster-tiny/model.json'), 'utf8')) as { files: Record<string, { path: string; sha256: string }> };
    const onnx = Object.values(manifest.files).filter((f) => f.path.endsWith('.onnx'));
    expect(onnx).toHaveLength(5); // vision, embed, decoder, kv_shift and kv_append
    for (const f of onnx) expect(createHash('sha256').update(readFileSync(join(work, 'pkg', f.path))).digest('hex'), f.path).toBe(f.sha256);
    // The exporter writes the committed manifest itself (the cache graphs listed, the decoder's cache I/O).
    expect(readFileSync(join(work, 'pkg/model.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'models/cocaster-tiny/model.json'), 'utf8'));
  }, 150_000);
});

describe('the exported decoder math (python3 -m cocaster_model.test_model)', () => {
  it.skipIf(skipTraining)('equals the reference forward: last layer at the logits rows, two-part softmax, unused slots', () => {
    const run = python(['-m', 'cocaster_model.test_model'], 120_000);
    expect(run.status, run.output.slice(-3000)).toBe(0);
    expect(run.output).toContain('all model tests passed');
  }, 150_000);
});

describe('arena world (python3 -m arena.test_arena)', () => {
  it.skipIf(noArenaDeps !== '' && process.env.REQUIRE_TRAINING !== '1')('passes its checks', () => {
    const run = python(['-m', 'arena.test_arena'], 120_000);
    expect(run.status, run.output.slice(-3000)).toBe(0);
    expect(run.output).toContain('all arena tests passed');
  }, 150_000);
});
