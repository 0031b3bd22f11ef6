import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { UserError, oneLine } from '../util/errors.js';
import { decodeArgs, ffmpegPath, type DecodeGeometry } from './ffmpeg.js';
import type { FrameSource, SourceFrame } from './source.js';

export interface FfmpegSourceOptions {
  geometry: DecodeGeometry;
  /** Pace input at its native rate, like a live source. */
  realtime: boolean;
  inputArgs?: string[];
}

/** Frames of anything ffmpeg can open (a file path, a URL, a lavfi graph). */
export class FfmpegSource implements FrameSource {
  private child: ChildProcess | undefined;

  constructor(
    private readonly input: string,
    private readonly options: FfmpegSourceOptions,
    readonly description = input,
  ) {}

  async *frames(): AsyncIterable<SourceFrame> {
    const { geometry } = this.options;
    const frameBytes = geometry.width * geometry.height * 3;
    const child = spawn(ffmpegPath(), decodeArgs(this.input, geometry, this.options), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
    let pending: Buffer = Buffer.alloc(0);
    let index = 0;
    for await (const chunk of child.stdout! as AsyncIterable<Buffer>) {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= frameBytes) {
        const rgb = new Uint8Array(pending.subarray(0, frameBytes));
        pending = pending.subarray(frameBytes);
        yield { t: index++ / geometry.fps, capturedAt: Date.now(), rgb };
      }
    }
    const code = await exited;
    if (code !== 0 && code !== null && !child.killed) {
      const reason = oneLine(stderr.trim().split('\n').at(-1) ?? '') || `ffmpeg exited with code ${code}`;
      throw new UserError(`cannot decode ${this.description}: ${reason}`);
    }
    if (index === 0 && !child.killed) throw new UserError(`cannot decode ${this.description}: no video frames`);
  }

  async close(): Promise<void> {
    if (this.child && this.child.exitCode === null) this.child.kill('SIGTERM');
  }
}

export function fileSource(path: string, geometry: DecodeGeometry, opts: { fast: boolean; loop?: boolean }): FfmpegSource {
  if (!existsSync(path)) throw new UserError(`no such file: ${path}`);
  if (!statSync(path).isFile()) throw new UserError(`not a file: ${path}`);
  return new FfmpegSource(path, { geometry, realtime: !opts.fast, inputArgs: opts.loop ? ['-stream_loop', '-1'] : [] }, `file ${path}`);
}
