import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openSource, type SourceFrame } from '../../src/capture/index.js';
import { MEDIA } from '../helpers.js';

const geometry = { fps: 2, width: 64, height: 64, padToSquare: true };

/** A free UDP-ish port: ask the OS for a free TCP port and reuse the number. */
function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

/** ffmpeg pushing a moving test card as MPEG-TS over UDP, like an encoder would. */
function startProducer(port: number): ChildProcess {
  return spawn('ffmpeg', ['-hide_banner', '-v', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=15', '-t', '60',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-tune', 'zerolatency', '-g', '15', '-f', 'mpegts', `udp://127.0.0.1:${port}?pkt_size=1316`], { stdio: 'ignore' });
}

const producers: ChildProcess[] = [];
afterEach(() => {
  for (const p of producers.splice(0)) p.kill('SIGKILL');
});

describe('url: source over UDP MPEG-TS', () => {
  it('delivers changing frames, and comes back after the stream stops and restarts', async () => {
    const port = await freePort();
    const source = openSource(`url:udp://127.0.0.1:${port}?overrun_nonfatal=1&fifo_size=500000`, geometry, { fast: false, loop: false });
    producers.push(startProducer(port));
    const frames: SourceFrame[] = [];
    let restarted = false;
    for await (const frame of source.frames()) {
      frames.push(frame);
      if (frames.length === 6 && !restarted) {
        // The encoder goes away; the decoder times out, is restarted, and picks up the new stream.
        producers.pop()!.kill('SIGKILL');
        restarted = true;
        setTimeout(() => producers.push(startProducer(port)), 7000); // longer than the 5 s input timeout
      }
      if (frames.length >= 12) break;
    }
    await source.close();
    expect(source.stats().restarts).toBeGreaterThanOrEqual(1);
    expect(frames.every((f) => f.rgb.length === 64 * 64 * 3)).toBe(true);
    const distinct = new Set(frames.map((f) => Buffer.from(f.rgb).toString('base64')));
    expect(distinct.size).toBeGreaterThan(8); // the test card moves
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.t).toBeGreaterThan(frames[i - 1]!.t);
    // Stream time follows the wall clock across the outage (at least 7 s; a lower
    // bound, which a slow machine only makes longer).
    const gaps = frames.slice(1).map((f, i) => f.t - frames[i]!.t);
    expect(Math.max(...gaps)).toBeGreaterThan(5);
  }, 120_000); // ~20 s on an idle machine: 3 s of frames, the 7 s outage, the 5 s input timeout, 3 s more

  const clip = join(MEDIA, 'mediapipe_squats_pose_overlay.mp4');
  it.skipIf(!existsSync(clip))('a realtime file source drops stale frames instead of queueing them', async () => {
    const source = openSource(`file:${clip}`, { ...geometry, fps: 10 }, { fast: false, loop: false });
    let taken = 0;
    const start = Date.now();
    for await (const _frame of source.frames()) {
      taken++;
      await new Promise((r) => setTimeout(r, 400)); // an engine 4x slower than the source
    }
    // Paced like a live feed: the 5.92 s clip takes at least ~5.9 s of wall time
    // (a lower bound only: load makes it longer, never shorter).
    expect(Date.now() - start).toBeGreaterThan(5500);
    const { delivered, dropped } = source.stats();
    expect(delivered).toBe(taken);
    expect(dropped).toBeGreaterThan(20); // ~59 frames in 5.9 s, ~15 taken
    expect(delivered + dropped).toBeGreaterThanOrEqual(55);
  }, 60_000);
});
