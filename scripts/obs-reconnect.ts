/**
 * How fast frames resume after OBS dies and comes back: kills the project's headless
 * OBS (SIGKILL, as a crash would) and restarts it N times, and measures from the
 * moment its websocket port accepts connections to the next frame the `obs` source
 * delivers. Prints one JSON object.
 *   npx tsx scripts/obs-reconnect.ts [rounds=10]
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openSource } from '../src/capture/index.js';
import { ObsHarness, portOpen } from '../test/integration/obsHarness.js';

const rounds = Number(process.argv[2] ?? 10);
const geometry = { fps: 2, width: 128, height: 128, padToSquare: true };

/** When the port first accepts a connection, polled every 10 ms. */
async function listening(port: number): Promise<number> {
  while (!(await portOpen(port))) await sleep(10);
  return Date.now();
}

const obs = await ObsHarness.start();
const source = openSource('obs', geometry, { fast: false, loop: false, obs: { url: obs.url, password: obs.password } });
const frameTimes: number[] = [];
const consuming = (async () => {
  for await (const f of source.frames()) frameTimes.push(f.capturedAt);
})();
try {
  while (frameTimes.length < 4) await sleep(50);
  const resumeMs: number[] = [];
  for (let i = 0; i < rounds; i++) {
    await obs.killObs();
    await sleep(1000); // OBS stays down a moment, as after a crash
    const restarted = obs.startObs();
    const listenAt = await listening(obs.port);
    await restarted;
    while (!frameTimes.some((t) => t > listenAt)) await sleep(5);
    resumeMs.push(frameTimes.find((t) => t > listenAt)! - listenAt);
  }
  const sorted = [...resumeMs].sort((a, b) => a - b);
  console.log(JSON.stringify({ rounds, resumeMs, medianMs: sorted[Math.floor(sorted.length / 2)], maxMs: sorted.at(-1) }));
} finally {
  await source.close();
  await consuming.catch(() => undefined);
  await obs.stop();
}
