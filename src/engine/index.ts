export type { EngineEvent, EngineEventListener, FrameDecision, SpeechTrigger } from '../protocol/index.js';
export { LiveModel, type LoadOptions } from './model.js';
export { FramePipeline } from './framePipeline.js';
export { LiveSession, type Frame, type Question, type SessionModel, type SessionOptions } from './liveSession.js';
export { readManifest, verifyFiles, type ModelManifest, type ModelPackage } from './manifest.js';
export { autoCandidates, bundledProviders, EXECUTION_PROVIDERS, parseExecutionProvider, type ExecutionProvider, type ExecutionProviderChoice } from './runtime.js';
export { defaultModelDir } from './defaultModel.js';
