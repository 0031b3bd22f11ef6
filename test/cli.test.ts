import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { ffmpegPath } from '../src/capture/ffmpeg.js';
import { until } from './daemonHarness.js';
import { FIXTURE, MEDIA, ROOT, hasMedia, runCli, tempDir } from './helpers.js';

/** A writable copy of the fixture package, for breaking it on purpose. */
function fixtureCopy(): string {
  const dir = join(tempDir(), 'model');
  mkdirSync(dir);
  for (const f of readdirSync(FIXTURE)) copyFileSync(join(FIXTURE, f), join(dir, f));
  return dir;
}

function editManifest(dir: string, edit: (m: Record<string, any>) => void): void {
  const path = join(dir, 'model.json');
  const m = JSON.parse(readFileSync(path, 'utf8'));
  edit(m);
  writeFileSync(path, JSON.stringify(m));
}

function expectOneLineError(res: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(res.code).toBe(2);
  const lines = res.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe.skipIf(!hasMedia)('cocaster run on a real clip', () => {
  it('writes one frame event per 0.5 s of the 133.2 s crafter clip, and answers a question', async () => {
    const out = join(tempDir(), 'events.jsonl');
    const res = await runCli(['run', '--source', `file:${join(MEDIA, 'crafter_gameplay_hud.mp4')}`, '--fast', '--ep', 'cpu', '--jsonl', out, '--ask', '10:What is on screen?']);
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.code).toBe(0);
    const events = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const frames = events.filter((e) => e.type === 'frame');
    expect(Math.abs(frames.length - 266)).toBeLessThanOrEqual(2);
    expect(frames.every((e) => typeof e.t === 'number' && e.pInterval >= 0 && e.pInterval <= 1)).toBe(true);
    expect(frames[1].t - frames[0].t).toBeCloseTo(0.5);
    const question = events.find((e) => e.type === 'question');
    expect(question).toMatchObject({ t: 10, text: 'What is on screen?' });
    const answer = events.find((e) => e.type === 'say' && e.trigger === 'question');
    expect(answer.t).toBe(10);
    expect(res.stdout).toContain('[10.0s] User: What is on screen?');
    expect(res.stdout).toMatch(/^\[10\.0s\] Assistant: /m);
  }, 120_000);
});

describe.skipIf(!hasMedia)('Ctrl-C ends cocaster run cleanly', () => {
  const clip = `file:${join(MEDIA, 'crafter_gameplay_hud.mp4')}`;
  it.each([['real time', []], ['--fast', ['--fast']], ['--fast --loop', ['--fast', '--loop']]])('%s: exit 0, the source summary, no error line', async (_name, flags) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/cocaster.js'), 'run', '--source', clip, '--model', FIXTURE, '--ep', 'cpu', ...flags], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((res) => child.on('close', res));
    // Interrupt once frames flow (the model line is logged just before the first one),
    // well before the clip ends: with --fast the fixture reads it whole in ~1.7 s.
    await until(() => /threshold [\d.]+\n/.test(stderr) || undefined, 'the run to start', 60_000);
    await new Promise((r) => setTimeout(r, 500));
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/^source: \d+ frames, \d+ dropped while the engine was busy, \d+ decoder restarts$/m);
    expect(stderr).not.toMatch(/error|premature/i);
  }, 90_000);
});

describe('cocaster run with a plugin', () => {
  it('starts the plugin before the first frame; its settings come from --plugin-setting; its question is answered', async () => {
    const clip = join(tempDir(), 'clip.mp4');
    execFileSync(ffmpegPath(), ['-hide_banner', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc=size=96x96:rate=2:duration=8', '-pix_fmt', 'yuv420p', clip]);
    const res = await runCli(['run', '--source', `file:${clip}`, '--model', FIXTURE, '--ep', 'cpu', '--fast', '--plugin', join(ROOT, 'test/fixtures/plugins/good'),
      '--plugin-setting', 'good.askAfterFrames=3', '--plugin-setting', 'good.question=What is on screen?']);
    expect(res.code).toBe(0);
    const err = res.stderr.split('\n');
    // Active before the model's line, which comes just before the first frame.
    expect(err.findIndex((l) => l === 'plugin good: active')).toBeLessThan(err.findIndex((l) => l.startsWith('model tiny-random on cpu')));
    expect(err.findIndex((l) => l === 'plugin good: active')).toBeGreaterThanOrEqual(0);
    // askAfterFrames=3 read as a number (JSON), the question as text; all 16 frames reached the plugin.
    expect(res.stderr).toMatch(/^plugin good: asked q1$/m);
    expect(res.stderr).toMatch(/^plugin good: answer to q1: /m);
    expect(res.stderr).toMatch(/^plugin good: frames 10$/m);
    expect(res.stdout).toMatch(/User \(good\): What is on screen\?/);
    expect(res.stderr).not.toMatch(/error/i);
  }, 60_000);
});

describe('bad input gets one line on stderr and exit code 2', () => {
  const clip = join(MEDIA, 'crafter_gameplay_hud.mp4');

  it('missing source file', async () => {
    expectOneLineError(await runCli(['run', '--source', 'file:/nonexistent/clip.mp4', '--fast']), /no such file: \/nonexistent\/clip\.mp4/);
  });

  it('a file that is not video', async () => {
    const path = join(tempDir(), 'notes.mp4');
    writeFileSync(path, 'these are not the frames you are looking for\n'.repeat(50));
    expectOneLineError(await runCli(['run', '--source', `file:${path}`, '--fast', '--ep', 'cpu']), /cannot decode file .*notes\.mp4: .*Invalid data/);
  });

  it('malformed model.json', async () => {
    const dir = fixtureCopy();
    writeFileSync(join(dir, 'model.json'), '{"format": "cocaster-model", ');
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--model', dir, '--fast']), /model\.json is not valid JSON/);
  });

  it('model.json with a wrong field', async () => {
    const dir = fixtureCopy();
    editManifest(dir, (m) => (m.vision.fps = 'fast'));
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--model', dir, '--fast']), /model\.json field 'vision\.fps'/);
  });

  it('model.json with scene tokens past the frame\'s tokens', async () => {
    const dir = fixtureCopy();
    editManifest(dir, (m) => (m.vision.sceneCut = { tokens: [0, m.vision.tokensPerFrame], minCosine: 0.6 }));
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--model', dir, '--fast']), /model\.json field 'vision\.sceneCut\.tokens' sceneCut\.tokens must be below tokensPerFrame/);
  });

  it('checksum mismatch', async () => {
    const dir = fixtureCopy();
    const path = join(dir, 'embed_tokens.onnx');
    const bytes = readFileSync(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(path, bytes);
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--model', dir, '--fast']), /checksum mismatch for embed_tokens\.onnx/);
  });

  it('ONNX file with the wrong inputs', async () => {
    const dir = fixtureCopy();
    // A valid ONNX graph with the right checksum, but it is the embedding table, not the decoder.
    copyFileSync(join(dir, 'embed_tokens.onnx'), join(dir, 'decoder_model_merged.onnx'));
    const sha = createHash('sha256').update(readFileSync(join(dir, 'decoder_model_merged.onnx'))).digest('hex');
    editManifest(dir, (m) => (m.files.decoder.sha256 = sha));
    expectOneLineError(
      await runCli(['run', '--source', `file:${clip}`, '--model', dir, '--fast', '--ep', 'cpu']),
      /decoder_model_merged\.onnx: missing input 'inputs_embeds'/,
    );
  });

  it('unknown --ep', async () => {
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--ep', 'tpu']), /unknown execution provider 'tpu'/);
  });

  it('bad --plugin and --plugin-setting', async () => {
    const good = join(ROOT, 'test/fixtures/plugins/good');
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--plugin-setting', 'askAfterFrames=3']), /--plugin-setting expects ID\.KEY=VALUE, got 'askAfterFrames=3'/);
    // The error names the flags it came from, not the config file's keys.
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--plugin', good, '--plugin-setting', 'good.askAfterFrames=soon']), /^cocaster: --plugin-setting good: field 'askAfterFrames'/);
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--plugin-setting', 'good.askAfterFrames=3']), /^cocaster: --plugin-setting good: no plugin with that id in the --plugin flags$/);
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--plugin', good, '--plugin', good]), /^cocaster: plugin id 'good' is listed twice in the --plugin flags$/);
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--plugin', '/nonexistent/plugin']), /plugin '\/nonexistent\/plugin': no package\.json/);
  });

  it('bad --ask and --threshold', async () => {
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--ask', 'soon:hello']), /--ask expects SECONDS:TEXT/);
    expectOneLineError(await runCli(['run', '--source', `file:${clip}`, '--threshold', '2']), /--threshold must be a number from 0 to 1/);
  });

  it('doctor: a FAIL line means exit 1', async () => {
    const res = await runCli(['doctor', '--model', '/nonexistent/model'], { COCASTER_CONFIG_DIR: tempDir() });
    expect(res.stdout).toMatch(/^FAIL model: model package \/nonexistent\/model: no model\.json found$/m);
    expect(res.code).toBe(1);
  });

  it('unknown flag', async () => {
    expectOneLineError(await runCli(['run', '--sauce', 'x']), /Unknown option '--sauce'/);
  });
});
