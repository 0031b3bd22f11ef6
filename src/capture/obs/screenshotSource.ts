import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { DecodeGeometry } from '../ffmpeg.js';
import { LatestFrame, drainNewest } from '../latestFrame.js';
import type { FrameSource, SourceFrame, SourceStats } from '../source.js';
import { decodeBmp, fitSize, padTo } from './bmp.js';
import type { ObsConnection } from './connection.js';

/**
 * OBS's program output as screenshots of the current program scene, at the model's
 * fps. OBS scales to the model's size and sends an uncompressed BMP, so decoding
 * needs no process and adds no latency. Follows scene switches; waits out
 * disconnects (the connection reconnects by itself).
 */
export class ObsScreenshotSource implements FrameSource {
  readonly description: string;
  private closed = false;
  private mailbox: LatestFrame | undefined;

  constructor(
    private readonly connection: ObsConnection,
    private readonly geometry: DecodeGeometry,
    private readonly logger: Logger = silentLogger,
  ) {
    this.description = 'OBS program output (screenshots)';
  }

  stats(): SourceStats {
    return { delivered: this.mailbox?.delivered ?? 0, dropped: this.mailbox?.dropped ?? 0, restarts: 0 };
  }

  frames(): AsyncIterable<SourceFrame> {
    const mailbox = (this.mailbox = new LatestFrame());
    return drainNewest(mailbox, this.pump(mailbox), () => (this.closed = true));
  }

  private async pump(mailbox: LatestFrame): Promise<void> {
    const interval = 1000 / this.geometry.fps;
    const startedAt = Date.now();
    let tick = 0;
    let size: { width: number; height: number } | undefined;
    while (!this.closed) {
      const due = startedAt + tick * interval;
      if (due > Date.now()) await sleep(due - Date.now());
      // Behind schedule (OBS was away, or slow): skip to the next slot instead of bursting.
      tick = Math.max(tick + 1, Math.floor((Date.now() - startedAt) / interval));
      if (!this.connection.isConnected) {
        size = undefined; // the canvas may change while OBS is away
        continue;
      }
      try {
        size ??= await this.targetSize();
        const scene = this.connection.programScene;
        if (!scene) continue;
        const requested = Date.now();
        const { imageData } = await this.connection.call('GetSourceScreenshot', { sourceName: scene, imageFormat: 'bmp', imageWidth: size.width, imageHeight: size.height }, 3000);
        const image = decodeBmp(Buffer.from(imageData.slice(imageData.indexOf(',') + 1), 'base64'));
        const rgb = padTo(image, this.geometry.width, this.geometry.height);
        const now = Date.now();
        mailbox.put({ t: (requested - startedAt) / 1000, capturedAt: now, rgb, scene, captureMs: now - requested });
      } catch (err) {
        this.logger.debug(`OBS screenshot failed: ${errorMessage(err)}`);
      }
    }
    mailbox.end();
  }

  /** The model's frame size with OBS's canvas aspect kept (then padded), or stretched. */
  private async targetSize(): Promise<{ width: number; height: number }> {
    const { width, height, padToSquare } = this.geometry;
    if (!padToSquare) return { width, height };
    const video = await this.connection.call('GetVideoSettings');
    return fitSize(video.baseWidth, video.baseHeight, width, height);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
