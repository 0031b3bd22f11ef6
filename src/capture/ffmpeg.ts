import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import { UserError } from '../util/errors.js';

let resolved: string | undefined;

function works(bin: string): boolean {
  try {
    if (bin.includes('/')) accessSync(bin, constants.X_OK);
    return spawnSync(bin, ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}

function ffmpegStaticPath(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('ffmpeg-static') as string | null;
    return path ?? undefined;
  } catch {
    return undefined; // optional dependency, absent when its download failed
  }
}

/** The ffmpeg binary: $FFMPEG_BIN, then ffmpeg-static, then `ffmpeg` on PATH. */
export function ffmpegPath(): string {
  if (resolved) return resolved;
  const fromEnv = process.env.FFMPEG_BIN;
  if (fromEnv) {
    if (!works(fromEnv)) throw new UserError(`FFMPEG_BIN=${fromEnv} does not run ffmpeg`);
    return (resolved = fromEnv);
  }
  for (const candidate of [ffmpegStaticPath(), 'ffmpeg']) {
    if (candidate && works(candidate)) return (resolved = candidate);
  }
  throw new UserError('no working ffmpeg found: install it (apt-get install ffmpeg, brew install ffmpeg) or set FFMPEG_BIN');
}

export interface DecodeGeometry {
  fps: number;
  width: number;
  height: number;
  padToSquare: boolean;
}

/** The one video filter every source uses, and the training data too
 * (scripts/arena/dataset.py): sample at the model's fps, scale keeping the aspect
 * ratio and pad with black, or stretch when the model does not pad. */
export function videoFilter(g: DecodeGeometry): string {
  const fit = g.padToSquare
    ? `scale=${g.width}:${g.height}:force_original_aspect_ratio=decrease:flags=bilinear,pad=${g.width}:${g.height}:(ow-iw)/2:(oh-ih)/2:color=black`
    : `scale=${g.width}:${g.height}:flags=bilinear`;
  return `fps=${g.fps},${fit}`;
}

/** Arguments that decode `input` to raw RGB24 frames on stdout. */
export function decodeArgs(input: string, g: DecodeGeometry, opts: { realtime?: boolean; inputArgs?: string[] } = {}): string[] {
  return [
    '-hide_banner', '-nostdin', '-v', 'error',
    ...(opts.realtime ? ['-re'] : []),
    ...(opts.inputArgs ?? []),
    '-i', input,
    '-an', '-sn', '-dn',
    '-vf', videoFilter(g),
    '-pix_fmt', 'rgb24', '-f', 'rawvideo', 'pipe:1',
  ];
}
