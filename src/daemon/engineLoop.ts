import type { EventBus } from '../bus/index.js';
import type { SourceFrame } from '../capture/index.js';
import type { LiveSession } from '../engine/index.js';
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
    for (let next = first; !next.done; next = await frames.next()) {
      if (this.paused) continue;
      await this.session.pushFrame(next.value);
      this.videoTime = lastT = next.value.t;
      this.meter.record(next.value.capturedAt);
    }
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
