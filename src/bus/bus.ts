import type { Logger } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { BusEvent, BusEventOf, BusEventType } from '../protocol/index.js';

export interface Disposable {
  dispose(): void | Promise<void>;
}

/** `at`: wall-clock ms (performance.timeOrigin-based, sub-ms) when the event was published. */
export type BusListener<E extends BusEvent = BusEvent> = (event: E, at: number) => void;

export interface SubscribeOptions {
  /** A critical listener's failure stops the event from reaching later listeners and
   * is rethrown to the publisher: the transcript store uses this so nothing is
   * broadcast that was not committed. Other listeners' failures are logged only. */
  critical?: boolean;
}

interface Entry {
  listener: BusListener;
  critical: boolean;
}

export const wallClockMs = (): number => performance.timeOrigin + performance.now();

/** A synchronous, in-order event bus: listeners run in subscription order, in the
 * publisher's tick, so the first subscriber has finished before the second starts. */
export class EventBus {
  private entries: Entry[] = [];

  constructor(private readonly logger: Logger) {}

  /** Every event. */
  subscribe(listener: BusListener, options: SubscribeOptions = {}): Disposable {
    const entry: Entry = { listener, critical: options.critical ?? false };
    this.entries.push(entry);
    return { dispose: () => void (this.entries = this.entries.filter((e) => e !== entry)) };
  }

  /** Events of one type, typed. */
  on<K extends BusEventType>(type: K, listener: BusListener<BusEventOf<K>>, options: SubscribeOptions = {}): Disposable {
    return this.subscribe((event, at) => {
      if (event.type === type) listener(event as BusEventOf<K>, at);
    }, options);
  }

  publish(event: BusEvent): void {
    const at = wallClockMs();
    // A snapshot, so a listener that unsubscribes during dispatch does not skip its neighbour.
    for (const entry of [...this.entries]) {
      try {
        entry.listener(event, at);
      } catch (err) {
        if (entry.critical) throw err;
        this.logger.error(`output failed on ${event.type}: ${errorMessage(err)}`);
      }
    }
  }

  get listenerCount(): number {
    return this.entries.length;
  }
}
