import type { SourceFrame } from './source.js';

/**
 * Drops frames while the program scene is one of `pauseScenes` ("Starting Soon",
 * "BRB", …) so the model neither sees nor comments on them, and reports each
 * pause and resume once.
 */
export async function* skipPausedScenes(
  frames: AsyncIterable<SourceFrame>,
  pauseScenes: readonly string[],
  onChange: (paused: boolean, scene: string) => void,
): AsyncIterable<SourceFrame> {
  const pausing = new Set(pauseScenes.map((s) => s.toLowerCase()));
  let paused = false;
  for await (const frame of frames) {
    const now = frame.scene !== undefined && pausing.has(frame.scene.toLowerCase());
    if (now !== paused) {
      paused = now;
      onChange(paused, frame.scene ?? '');
    }
    if (!paused) yield frame;
  }
}
