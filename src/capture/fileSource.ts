import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError, oneLine } from '../util/errors.js';
import { silentLogger, type Logger } from '../util/log.js';
import { decodeArgs, ffmpegPath, type DecodeGeometry } from './ffmpeg.js';
import { LatestFrame, drainNewest } from './latestFrame.js';
import type { FrameSource, SourceFrame, SourceStats } from './source.js';

export interface FfmpegSourceOptions {
  geometry: DecodeGeometry;
  /** Pace input at its native rate (`-re`), like a live source. */
  realtime: boolean;
  inputArgs?: string[];
  /** Live: the newest frame wins and drops are counted; else every frame is delivered. */
  live: boolean;
  /** Network inputs: restart ffmpeg with capped backoff whenever it exits. */
  restart?: boolean;
  logger?: Logger;
}

const BACKOFF_MS = { first: 250, max: 5000 };

/** Frames of anything ffmpeg can open (a file path, a URL, a lavfi graph). */
export class FfmpegSource implements FrameSource {
  private child: ChildProcess | undefined;
  private closed = false;
  private restarts = 0;
  private delivered = 0;
  private mailbox: LatestFrame | undefined;

  constructor(
    private readonly input: string,
    private readonly options: FfmpegSourceOptions,
    readonly description = input,
  ) {}

  stats(): SourceStats {
    const { delivered, dropped } = this.mailbox ?? { delivered: this.delivered, dropped: 0 };
    return { delivered, dropped, restarts: this.restarts };
  }

  frames(): AsyncIterable<SourceFrame> {
    return this.options.live ? this.liveFrames() : this.allFrames();
  }

  /** Every frame, with pipe backpressure (ffmpeg waits for the engine). */
  private async *allFrames(): AsyncIterable<SourceFrame> {
    const { fps } = this.options.geometry;
    const decoder = this.spawnDecoder();
    let index = 0;
    for await (const rgb of decoder.frames) {
      this.delivered++;
      yield { t: index++ / fps, capturedAt: Date.now(), rgb };
    }
    await this.checkExit(await decoder.exit, decoder.stderr(), index);
  }

  /** Newest frame wins; with `restart`, ffmpeg is brought back whenever it exits. */
  private liveFrames(): AsyncIterable<SourceFrame> {
    const mailbox = (this.mailbox = new LatestFrame());
    return drainNewest(mailbox, this.pumpLive(mailbox), () => this.close());
  }

  private async pumpLive(mailbox: LatestFrame): Promise<void> {
    const { fps } = this.options.geometry;
    const startedAt = Date.now();
    let lastT = -Infinity;
    let backoff = BACKOFF_MS.first;
    while (!this.closed) {
      const decoder = this.spawnDecoder();
      let index = 0;
      try {
        for await (const rgb of decoder.frames) {
          const now = Date.now();
          // Files keep their own timeline; network inputs follow the wall clock across restarts.
          // (A burst of buffered frames can share a millisecond; time must still advance.)
          const t = this.options.restart ? Math.max((now - startedAt) / 1000, lastT + 0.001) : index / fps;
          lastT = t;
          index++;
          mailbox.put({ t, capturedAt: now, rgb });
          backoff = BACKOFF_MS.first;
        }
        const code = await decoder.exit;
        if (!this.options.restart || this.closed) {
          await this.checkExit(code, decoder.stderr(), index);
          break;
        }
        this.restarts++;
        (this.options.logger ?? silentLogger).warn(`${this.description}: decoder stopped (${oneLine(decoder.stderr().trim().split('\n').at(-1) ?? '') || `exit ${code}`}); restarting in ${backoff} ms`);
        await sleep(backoff);
        backoff = Math.min(BACKOFF_MS.max, backoff * 2);
      } catch (err) {
        mailbox.end(err as Error);
        return;
      }
    }
    mailbox.end();
  }

  private spawnDecoder() {
    const { geometry } = this.options;
    const frameBytes = geometry.width * geometry.height * 3;
    const child = spawn(ffmpegPath(), decodeArgs(this.input, geometry, this.options), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
      (this.options.logger ?? silentLogger).debug(`ffmpeg: ${oneLine(d.toString())}`);
    });
    const exit = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    async function* frames(): AsyncIterable<Uint8Array> {
      let pending: Buffer = Buffer.alloc(0);
      for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
        pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
        while (pending.length >= frameBytes) {
          yield new Uint8Array(pending.subarray(0, frameBytes));
          pending = pending.subarray(frameBytes);
        }
      }
    }
    return { frames: frames(), exit, stderr: () => stderr };
  }

  private async checkExit(code: number | null, stderr: string, frames: number): Promise<void> {
    if (this.closed) return;
    if (code !== 0) {
      const reason = oneLine(stderr.trim().split('\n').at(-1) ?? '') || `ffmpeg exited with code ${code}`;
      throw new UserError(`cannot decode ${this.description}: ${reason}`);
    }
    if (frames === 0) throw new UserError(`cannot decode ${this.description}: no video frames`);
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    // An unread stdout would keep the pipe (and the 'close' event) pending forever.
    child?.stdout?.destroy();
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // ffmpeg normally exits at once; never leave a zombie behind.
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await new Promise((res) => child.once('exit', res));
      clearTimeout(timer);
    }
  }
}

export function fileSource(path: string, geometry: DecodeGeometry, opts: { fast: boolean; loop?: boolean; logger?: Logger }): FfmpegSource {
  if (!existsSync(path)) throw new UserError(`no such file: ${path}`);
  if (!statSync(path).isFile()) throw new UserError(`not a file: ${path}`);
  return new FfmpegSource(
    path,
    { geometry, realtime: !opts.fast, live: !opts.fast, inputArgs: opts.loop ? ['-stream_loop', '-1'] : [], logger: opts.logger },
    `file ${path}`,
  );
}
