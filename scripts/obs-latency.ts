/**
 * Capture latency and frame-interval jitter of the `obs` source against the
 * project's headless OBS harness. Prints one JSON object.
 *   npx tsx scripts/obs-latency.ts [frames=120]
 */
import { ObsConnection } from '../src/capture/obs/connection.js';
import { ObsScreenshotSource } from '../src/capture/obs/screenshotSource.js';
import { ObsStreamSource } from '../src/capture/obs/streamSource.js';
import type { FrameSource } from '../src/capture/source.js';
import { ObsHarness, freePort } from '../test/integration/obsHarness.js';

const frames = Number(process.argv[2] ?? 120);
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!;
const r = (x: number) => Math.round(x * 10) / 10;

async function measure(name: string, source: FrameSource) {
  const latency: number[] = [];
  const ready: number[] = [];
  const started = Date.now();
  let firstFrameMs = 0;
  for await (const f of source.frames()) {
    if (!ready.length) firstFrameMs = Date.now() - started;
    if (f.captureMs !== undefined) latency.push(f.captureMs);
    ready.push(f.capturedAt);
    if (ready.length >= frames) break;
  }
  await source.close();
  const intervals = ready.slice(1).map((t, i) => t - ready[i]!);
  const jitter = intervals.map((d) => Math.abs(d - 500));
  return {
    source: name,
    frames: ready.length,
    firstFrameMs,
    ...(latency.length ? { captureMs: { p50: r(pct(latency, 0.5)), p95: r(pct(latency, 0.95)), max: r(Math.max(...latency)) } } : {}),
    intervalMs: { p50: r(pct(intervals, 0.5)), min: r(Math.min(...intervals)), max: r(Math.max(...intervals)) },
    jitterMs: { p50: r(pct(jitter, 0.5)), p95: r(pct(jitter, 0.95)) },
  };
}

const obs = await ObsHarness.start();
try {
  const conn = new ObsConnection({ url: obs.url, password: obs.password });
  await conn.start();
  const geometry = { fps: 2, width: 128, height: 128, padToSquare: true };
  const results = [
    await measure('obs (GetSourceScreenshot, bmp, 128 px)', new ObsScreenshotSource(conn, geometry)),
    await measure('obs-stream (UDP MPEG-TS, ffmpeg)', new ObsStreamSource(conn, geometry, await freePort())),
  ];
  console.log(JSON.stringify({ obs: '29 headless under Xvfb, 640x360@15 canvas, llvmpipe', results }));
  await conn.close();
} finally {
  await obs.stop();
}
