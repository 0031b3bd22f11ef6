import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { DecodeGeometry } from './ffmpeg.js';
import { FfmpegSource, fileSource } from './fileSource.js';
import type { FrameSource } from './source.js';
import { obsSource, type ObsOptions } from './obs/index.js';

export type { FrameSource, SourceFrame } from './source.js';
export { ffmpegPath } from './ffmpeg.js';
export { skipPausedScenes } from './pauseScenes.js';
export type { ObsOptions, ObsStatusEvent } from './obs/index.js';

export interface SourceOptions {
  fast: boolean;
  loop: boolean;
  logger?: Logger;
  obs?: ObsOptions;
  /** The model package's demo video, if it ships one. */
  demoVideo?: string;
}

/** `file:PATH`, `url:URL`, `obs`, `obs-stream` or `demo`. */
export function openSource(spec: string, geometry: DecodeGeometry, opts: SourceOptions): FrameSource {
  if (spec === 'obs' || spec === 'obs-stream') {
    return obsSource(spec, geometry, opts.obs ?? { url: 'ws://127.0.0.1:4455' }, opts.logger);
  }
  if (spec.startsWith('file:')) return fileSource(spec.slice(5), geometry, opts);
  if (spec.startsWith('url:')) return urlSource(spec.slice(4), geometry, opts.logger);
  if (spec === 'demo') {
    if (opts.demoVideo) return fileSource(opts.demoVideo, geometry, { fast: opts.fast, loop: true });
    // No demo match yet: ffmpeg's moving test card stands in, paced like a live feed.
    return new FfmpegSource('testsrc2=size=640x360:rate=30', { geometry, realtime: !opts.fast, live: !opts.fast, inputArgs: ['-f', 'lavfi'] }, 'demo test pattern');
  }
  throw new UserError(`unknown source '${spec}' (use file:PATH, url:URL, obs, obs-stream or demo)`);
}

/** A network stream (rtmp, srt, udp, http, hls…): live, newest frame wins, and
 * ffmpeg is restarted whenever the stream stops. */
function urlSource(url: string, geometry: DecodeGeometry, logger?: Logger): FfmpegSource {
  if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) throw new UserError(`url:${url} is not a URL (expected e.g. url:udp://127.0.0.1:5000)`);
  // Give up on a silent input after 5 s so the supervisor can restart it.
  const timeout = /^(udp|srt|rtp|tcp):/i.test(url) ? ['-timeout', '5000000'] : ['-rw_timeout', '5000000'];
  return new FfmpegSource(url, { geometry, realtime: false, live: true, restart: true, inputArgs: timeout, logger }, `url ${url.replace(/\/\/[^@/]*@/, '//***@')}`);
}
