import type { Logger } from '../../util/log.js';
import type { DecodeGeometry } from '../ffmpeg.js';
import type { FrameSource, SourceFrame, SourceStats } from '../source.js';
import type { ObsStatusEvent } from '../../protocol/index.js';
import { ObsConnection } from './connection.js';
import { ObsScreenshotSource } from './screenshotSource.js';
import { ObsStreamSource } from './streamSource.js';

export type { ObsStatusEvent } from '../../protocol/index.js';

export interface ObsOptions {
  url: string;
  password?: string;
  /** obs-stream: the local UDP port OBS sends to. */
  udpPort?: number;
  onStatus?: (event: ObsStatusEvent) => void;
}

/** An OBS source that owns its websocket connection (opened on first frame, closed with the source). */
class OwnedObsSource implements FrameSource {
  constructor(
    private readonly connection: ObsConnection,
    private readonly inner: FrameSource,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  stats(): SourceStats {
    return this.inner.stats();
  }

  async *frames(): AsyncIterable<SourceFrame> {
    await this.connection.start();
    yield* this.inner.frames();
  }

  async close(): Promise<void> {
    await this.inner.close();
    await this.connection.close();
  }
}

export function obsSource(kind: 'obs' | 'obs-stream', geometry: DecodeGeometry, options: ObsOptions, logger?: Logger): FrameSource {
  const connection = new ObsConnection({ url: options.url, password: options.password, logger, onStatus: options.onStatus });
  const inner = kind === 'obs' ? new ObsScreenshotSource(connection, geometry, logger) : new ObsStreamSource(connection, geometry, options.udpPort ?? 5600, logger);
  return new OwnedObsSource(connection, inner);
}
