/** A decoded frame from any source, at the model's resolution. */
export interface SourceFrame {
  /** Stream time in seconds (frame index / fps for files). */
  t: number;
  /** Wall-clock time the frame was ready (ms since epoch). */
  capturedAt: number;
  /** RGB24, width*height*3 bytes. */
  rgb: Uint8Array;
}

export interface FrameSource {
  readonly description: string;
  frames(): AsyncIterable<SourceFrame>;
  /** Stops the source; pending iteration ends. */
  close(): Promise<void>;
}
