export type { EngineEvent, EngineEventListener, FrameDecision, SpeechTrigger } from '../protocol/index.js';
