import { describe, expect, it } from 'vitest';
import { ObsStreamSource } from '../../src/capture/obs/streamSource.js';
import type { SourceFrame } from '../../src/capture/index.js';
import { freePort, obsAvailableOrFail, useConnectedObs } from './obsHarness.js';

const hasObs = obsAvailableOrFail();

describe.skipIf(!hasObs)('obs-stream source against a real OBS', () => {
  const live = useConnectedObs();

  const userProfile = async () => ({
    name: (await live.conn.call('GetProfileList')).currentProfileName,
    mode: (await live.conn.call('GetProfileParameter', { parameterCategory: 'Output', parameterName: 'Mode' })).parameterValue,
    path: (await live.conn.call('GetProfileParameter', { parameterCategory: 'SimpleOutput', parameterName: 'FilePath' })).parameterValue,
    video: await live.conn.call('GetVideoSettings'),
  });

  it('decodes the program output from UDP and leaves the user profile as it was', async () => {
    const before = await userProfile();
    const source = new ObsStreamSource(live.conn, { fps: 2, width: 64, height: 64, padToSquare: true }, await freePort());
    const frames: SourceFrame[] = [];
    for await (const f of source.frames()) {
      frames.push(f);
      if (frames.length >= 12) break;
    }
    await source.close();
    // A loaded encoder may repeat a frame now and then (ffmpeg's fps filter fills gaps); the picture must still move.
    expect(new Set(frames.map((f) => Buffer.from(f.rgb).toString('base64'))).size).toBeGreaterThanOrEqual(6);
    expect((await live.conn.call('GetRecordStatus')).outputActive).toBe(false);
    expect(await userProfile()).toEqual(before);
  }, 90_000);

  it('refuses to take over while OBS is recording', async () => {
    await live.conn.call('StartRecord');
    while (!(await live.conn.call('GetRecordStatus')).outputActive) await new Promise((r) => setTimeout(r, 100));
    try {
      const source = new ObsStreamSource(live.conn, { fps: 2, width: 64, height: 64, padToSquare: true }, await freePort());
      await expect(source.frames()[Symbol.asyncIterator]().next()).rejects.toThrow(/needs OBS idle/);
    } finally {
      await live.conn.call('StopRecord');
    }
  }, 60_000);
});
