export { TranscriptStore, type SessionInfo } from './transcriptStore.js';
export { commentaryCues, formatCaptions, sessionCaptions, type CaptionFormat, type Cue } from './captions.js';
export { storeOutput, transcriptLine } from './storeOutput.js';
