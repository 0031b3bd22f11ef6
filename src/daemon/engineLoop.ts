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
    /** Frames a step (model.framesPerStep for a file read with --fast; 1 for a live source). */
    private readonly framesPerStep = 1,
  ) {}

  /** Resolves with the video time of the last frame the engine saw (undefined: none). */
  async run(frames: AsyncIterator<SourceFrame>, first: IteratorResult<SourceFrame>): Promise<number | undefined> {
    let lastT: number | undefined;
    // The video time follows each frame the engine decides on, not the end of its step
    // (several frames with --fast): a question asked mid-step (panel, chat, a plugin) and a
    // pause are timed at the frame they followed.
    const following = this.bus.on('frame', (e) => (this.videoTime = e.t));
    // One step in flight: a file read with --fast encodes step k+1 while step k decodes.
    const pipeline = new FramePipeline({
      pushFrames: async (step: SourceFrame[]) => {
        await this.session.pushFrames(step);
        for (const frame of step) {
          this.videoTime = lastT = frame.t;
          this.meter.record(frame.capturedAt);
        }
      },
    }, this.framesPerStep);
    try {
      for (let next = first; !next.done; next = await frames.next()) {
        if (this.paused) continue;
        await pipeline.push(next.value);
      }
      await pipeline.drain();
      return lastT;
    } finally {
      await following.dispose();
    }
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
