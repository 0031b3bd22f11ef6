/** Every event on the bus, as the engine, the capture and the daemon publish it and
 * as websocket clients (overlay, control panel, plugins) receive it. Pure types with
 * no imports: the browser build imports this file too. Times `t` are video seconds. */

export type SpeechTrigger = 'self' | 'question';
export type FrameDecision = 'silent' | 'speak' | 'answer';

/** What the engine says about the stream. */
export type EngineEvent =
  | { type: 'frame'; t: number; pInterval: number; decision: FrameDecision }
  | { type: 'question'; t: number; id: string; text: string; asker?: string }
  | { type: 'speechStart'; t: number; trigger: SpeechTrigger; questionId?: string }
  | { type: 'speechDelta'; t: number; text: string }
  | { type: 'say'; t: number; text: string; trigger: SpeechTrigger; tokenIds: number[]; questionId?: string }
  | { type: 'contextReset'; t: number; droppedTokens: number }
  /** The KV cache reached its budget and evicted old frames (and text): the stream goes on. */
  | { type: 'compaction'; t: number; evictedFrameTokens: number; evictedTextTokens: number; keptTokens: number };

export type EngineEventListener = (event: EngineEvent) => void;

/** The engine's event types, for outputs that keep only those (the JSONL log). */
export const ENGINE_EVENT_TYPES: ReadonlySet<string> = new Set<EngineEvent['type']>(['frame', 'question', 'speechStart', 'speechDelta', 'say', 'contextReset', 'compaction']);

export const isEngineEvent = (event: { type: string }): event is EngineEvent => ENGINE_EVENT_TYPES.has(event.type);

/** OBS connection and outputs (the obs and obs-stream sources). */
export type ObsStatusEvent =
  | { type: 'obsConnected'; url: string }
  | { type: 'obsDisconnected'; url: string; reason: string }
  | { type: 'obsProgramScene'; scene: string }
  | { type: 'obsOutput'; output: 'stream' | 'record'; active: boolean };

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
  | ObsStatusEvent;

/** Everything on the bus: one discriminated union, switch on `type`. */
export type BusEvent = EngineEvent | DaemonEvent;
export type BusEventType = BusEvent['type'];
export type BusEventOf<K extends BusEventType> = Extract<BusEvent, { type: K }>;
