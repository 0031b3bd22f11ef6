import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { FIXTURE, ROOT, tempDir } from '../helpers.js';
import { obsAvailableOrFail, useConnectedObs } from './obsHarness.js';

const hasObs = obsAvailableOrFail();

interface Evt { type: string; t: number }
const readEvents = (path: string): Evt[] =>
  existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l.endsWith('}')).map((l) => JSON.parse(l) as Evt) : [];

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.skipIf(!hasObs)('cocaster run --source obs against a real OBS', () => {
  const live = useConnectedObs();

  it('comments on the live program, pauses on a pause scene, survives OBS dying, keeps the password secret', async () => {
    const jsonl = join(tempDir(), 'events.jsonl');
    const child = spawn(process.execPath, [join(ROOT, 'bin/cocaster.js'), 'run', '--source', 'obs', '--obs-url', live.obs.url,
      // The random fixture talks about anything; the default model is silent on an OBS test card.
      '--pause-scene', 'BRB', '--ep', 'cpu', '--model', FIXTURE, '--jsonl', jsonl], { cwd: ROOT, env: { ...process.env, OBS_PASSWORD: live.obs.password }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    const frames = () => readEvents(jsonl).filter((e) => e.type === 'frame');
    try {
      await until('frames from OBS', () => frames().length >= 4);
      expect(stdout).toMatch(/^\[\d+\.\ds\] Assistant: /m);

      await live.conn.call('SetCurrentProgramScene', { sceneName: 'BRB' });
      await until('pause', () => stderr.includes("commentary paused (scene 'BRB')"));
      const atPause = frames().length;
      await sleep(2000);
      expect(frames().length - atPause).toBeLessThanOrEqual(1); // at most one frame in flight
      await live.conn.call('SetCurrentProgramScene', { sceneName: 'Scene' });
      await until('resume', () => stderr.includes("commentary resumed (scene 'Scene')"));
      await until('frames after resume', () => frames().length >= atPause + 3);

      await live.obs.killObs();
      await until('disconnect report', () => stderr.includes('obs: obsDisconnected'));
      await live.obs.startObs();
      const before = frames().length;
      // Frames come back by themselves. How soon is the reconnect policy's business
      // (reconnectBackoff, unit-tested in obsReconnect.test.ts); the bound here only
      // has to hold on a loaded machine.
      await until('frames after OBS restart', () => frames().length > before + 1, 30_000);
      expect(child.exitCode).toBeNull(); // still running
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
    expect(stdout + stderr).not.toContain(live.obs.password);
  }, 120_000);
});
