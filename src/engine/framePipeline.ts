import type { Frame, LiveSession } from './liveSession.js';

/**
 * Feeds a LiveSession with one step in flight: push() gathers `framesPerStep`
 * frames, hands them to the session together (their encoding starts at once,
 * beside the decoder, and they may share a decoder run: LiveSession.pushFrames)
 * and returns when the step before is done, so the caller reads the next frames
 * while two steps are in the engine. For sources faster than real time (run
 * --fast, eval, soak, bench), where frames wait anyway; with the default of one
 * frame a step, a live source at 2 fps never has a frame waiting.
 */
export class FramePipeline {
  private inFlight: Promise<void> | undefined;
  private gathered: Frame[] = [];

  constructor(
    private readonly session: Pick<LiveSession, 'pushFrames'>,
    private readonly framesPerStep = 1,
  ) {}

  /** Pushes a frame; once a step's frames are gathered, resolves (or throws) with the step pushed before. */
  async push(frame: Frame): Promise<void> {
    this.gathered.push(frame);
    if (this.gathered.length >= this.framesPerStep) await this.send();
  }

  /** Sends the frames gathered so far and waits for every step. */
  async drain(): Promise<void> {
    if (this.gathered.length) await this.send();
    const last = this.inFlight;
    this.inFlight = undefined;
    await last;
  }

  private async send(): Promise<void> {
    const step = this.session.pushFrames(this.gathered);
    this.gathered = [];
    step.catch(() => undefined); // awaited by the next send() or by drain()
    const before = this.inFlight;
    this.inFlight = step;
    await before;
  }
}
