import type { EventBus } from '../bus/index.js';
import type { SourceFrame } from '../capture/index.js';
import { FramePipeline, type LiveSession } from '../engine/index.js';
import { FrameMeter } from './meter.js';

/** Source frames into the engine, honouring pause. While paused, frames are read
 * and dropped: the source is live, the engine just stops watching. */
export class EngineLoop {
  paused = false;
  /** Video time of the last frame fed to the engine. */
  videoTime = 0;
  readonly meter = new FrameMeter();

  constructor(
    private readonly session: LiveSession,
    private readonly bus: EventBus,
  ) {}

  /** Resolves with the video time of the last frame the engine saw (undefined: none). */
  async run(frames: AsyncIterator<SourceFrame>, first: IteratorResult<SourceFrame>): Promise<number | undefined> {
    let lastT: number | undefined;
    // One frame in flight: a file read with --fast encodes frame k+1 while frame k decodes.
    const pipeline = new FramePipeline({
      pushFrames: async (frames: SourceFrame[]) => {
        await this.session.pushFrames(frames);
        for (const frame of frames) {
          this.videoTime = lastT = frame.t;
          this.meter.record(frame.capturedAt);
        }
      },
    });
    for (let next = first; !next.done; next = await frames.next()) {
      if (this.paused) continue;
      await pipeline.push(next.value);
    }
    await pipeline.drain();
    return lastT;
  }

  pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.bus.publish({ type: 'paused', t: this.videoTime });
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.bus.publish({ type: 'resumed', t: this.videoTime });
  }
}
