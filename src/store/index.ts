export { TranscriptStore, type LineRole, type SessionInfo, type TranscriptLine } from './transcriptStore.js';
export { commentaryCues, formatCaptions, type CaptionFormat, type Cue } from './captions.js';
