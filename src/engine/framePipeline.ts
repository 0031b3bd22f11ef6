import type { Frame, LiveSession } from './liveSession.js';

/**
 * Feeds a LiveSession with one frame in flight: push() hands frame k to the
 * session (its encoding starts at once, beside the decoder) and returns when
 * frame k-1 is done, so the caller reads the next frame while two are in the
 * engine. For sources faster than real time (run --fast, eval, soak, bench);
 * a live source at 2 fps never has a frame waiting.
 */
export class FramePipeline {
  private inFlight: Promise<void> | undefined;

  constructor(private readonly session: Pick<LiveSession, 'pushFrame'>) {}

  /** Pushes a frame; resolves (or throws) with the frame pushed before it. */
  async push(frame: Frame): Promise<void> {
    const step = this.session.pushFrame(frame);
    step.catch(() => undefined); // awaited by the next push() or by drain()
    const before = this.inFlight;
    this.inFlight = step;
    await before;
  }

  /** Waits for the last frame pushed. */
  async drain(): Promise<void> {
    const last = this.inFlight;
    this.inFlight = undefined;
    await last;
  }
}
