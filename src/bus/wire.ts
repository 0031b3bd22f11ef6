import type { BusEvent, SourceState } from './events.js';

/** What `/api/status` and the control panel show. Holds no secret. */
export interface DaemonStatus {
  source: string;
  sourceState: SourceState;
  model: string;
  executionProvider: string;
  /** Frames the engine processed per second, over the last few seconds. */
  fps: number;
  /** Capture-to-processed ms of the last frames (mean). */
  latencyMs: number;
  threshold: number;
  paused: boolean;
  sessionId: number;
  videoTime: number;
}

/** What a websocket client receives. Pure types: the overlay imports this file too. */
export type ServerMessage =
  | { kind: 'event'; at: number; event: BusEvent }
  | { kind: 'status'; status: DaemonStatus };
