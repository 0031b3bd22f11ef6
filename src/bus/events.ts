import type { ObsStatusEvent } from '../capture/index.js';
import type { EngineEvent } from '../engine/events.js';

export type SourceState = 'starting' | 'running' | 'ended' | 'error';

/** What the daemon itself adds to the engine's events. */
export type DaemonEvent =
  | { type: 'paused'; t: number }
  | { type: 'resumed'; t: number }
  | { type: 'thresholdChanged'; threshold: number }
  | { type: 'sourceStatus'; state: SourceState; description: string; message?: string }
  /** A viewer's question was accepted; the engine answers it at its next frame. */
  | { type: 'questionQueued'; t: number; id: string; text: string; asker?: string }
  /** The program scene is (or stopped being) one of the configured pause scenes. */
  | { type: 'scenePause'; paused: boolean; scene: string }
  /** OBS connection and outputs (obs and obs-stream sources). */
  | ObsStatusEvent;

/** Everything on the bus: one discriminated union, switch on `type`. */
export type BusEvent = EngineEvent | DaemonEvent;
export type BusEventType = BusEvent['type'];
export type BusEventOf<K extends BusEventType> = Extract<BusEvent, { type: K }>;
