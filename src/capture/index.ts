import { UserError } from '../util/errors.js';
import type { DecodeGeometry } from './ffmpeg.js';
import { FfmpegSource, fileSource } from './fileSource.js';
import type { FrameSource } from './source.js';

export type { FrameSource, SourceFrame } from './source.js';
export { ffmpegPath } from './ffmpeg.js';

export interface SourceOptions {
  fast: boolean;
  loop: boolean;
  /** The model package's demo video, if it ships one. */
  demoVideo?: string;
}

/** `file:PATH`, `url:URL` or `demo`. */
export function openSource(spec: string, geometry: DecodeGeometry, opts: SourceOptions): FrameSource {
  if (spec.startsWith('file:')) return fileSource(spec.slice(5), geometry, opts);
  if (spec.startsWith('url:')) return new FfmpegSource(spec.slice(4), { geometry, realtime: false }, `url ${spec.slice(4)}`);
  if (spec === 'demo') {
    if (opts.demoVideo) return fileSource(opts.demoVideo, geometry, { fast: opts.fast, loop: true });
    // No demo match yet: ffmpeg's moving test card stands in, paced like a live feed.
    return new FfmpegSource('testsrc2=size=640x360:rate=30', { geometry, realtime: !opts.fast, inputArgs: ['-f', 'lavfi'] }, 'demo test pattern');
  }
  throw new UserError(`unknown source '${spec}' (use file:PATH, url:URL or demo)`);
}
