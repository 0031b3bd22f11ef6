import type { SourceFrame } from './source.js';

/**
 * A one-frame mailbox between a live producer and a slower consumer: the newest
 * frame wins and every frame replaced before it was taken counts as dropped, so a
 * lagging engine never builds an unbounded queue.
 */
export class LatestFrame {
  private frame: SourceFrame | undefined;
  private waiter: (() => void) | undefined;
  private ended = false;
  private failure: Error | undefined;
  dropped = 0;
  delivered = 0;

  put(frame: SourceFrame): void {
    if (this.frame) this.dropped++;
    this.frame = frame;
    this.wake();
  }

  /** No more frames; a pending take() resolves with undefined (or rejects). */
  end(failure?: Error): void {
    this.ended = true;
    this.failure = failure;
    this.wake();
  }

  async take(): Promise<SourceFrame | undefined> {
    while (!this.frame && !this.ended) await new Promise<void>((res) => (this.waiter = res));
    const frame = this.frame;
    this.frame = undefined;
    if (frame) {
      this.delivered++;
      return frame;
    }
    if (this.failure) throw this.failure;
    return undefined;
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** Yields a live producer's newest frames until it ends; `stop` runs when the
 * consumer leaves, and the producer is awaited so nothing outlives the source. */
export async function* drainNewest(mailbox: LatestFrame, producer: Promise<void>, stop: () => unknown): AsyncIterable<SourceFrame> {
  try {
    for (let frame = await mailbox.take(); frame; frame = await mailbox.take()) yield frame;
  } finally {
    await stop();
    await producer;
  }
}
