/** What the engine tells the rest of the daemon. Times `t` are video seconds. */
export type SpeechTrigger = 'self' | 'question';
export type FrameDecision = 'silent' | 'speak' | 'answer';

export type EngineEvent =
  | { type: 'frame'; t: number; pInterval: number; decision: FrameDecision }
  | { type: 'question'; t: number; id: string; text: string; asker?: string }
  | { type: 'speechStart'; t: number; trigger: SpeechTrigger; questionId?: string }
  | { type: 'speechDelta'; t: number; text: string }
  | { type: 'say'; t: number; text: string; trigger: SpeechTrigger; tokenIds: number[]; questionId?: string }
  | { type: 'contextReset'; t: number; droppedTokens: number };

export type EngineEventListener = (event: EngineEvent) => void;
