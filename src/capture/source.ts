/** A decoded frame from any source, at the model's resolution. */
export interface SourceFrame {
  /** Stream time in seconds: frame index / fps for files, seconds since start for live inputs. */
  t: number;
  /** Wall-clock time the frame was ready (ms since epoch). */
  capturedAt: number;
  /** RGB24, width*height*3 bytes. */
  rgb: Uint8Array;
  /** OBS sources: the program scene the frame shows. */
  scene?: string;
  /** OBS sources: ms from the screenshot request to the frame being ready. */
  captureMs?: number;
}

export interface SourceStats {
  delivered: number;
  /** Frames replaced by a newer one before the engine took them. */
  dropped: number;
  /** Times the decoder was restarted after it died. */
  restarts: number;
}

export interface FrameSource {
  readonly description: string;
  frames(): AsyncIterable<SourceFrame>;
  stats(): SourceStats;
  /** Stops the source; pending iteration ends. */
  close(): Promise<void>;
}
