import type { ModelManifest } from './manifest.js';

/** Frames a scene must hold still before a change of scene counts as a cut (2 s at 2 fps). */
export const STABLE_FRAMES = 4;

/**
 * A new scene in the stream, seen in the frame embeddings a package declares to
 * identify it (cocaster-tiny: its home and away team tokens, which name the teams,
 * their kits and scores): when those embeddings' cosine to the previous frame's
 * falls below the package's minCosine, what the earlier frames showed belongs to
 * another scene and the cache policy drops them (their text stays). Only a scene
 * that held still for STABLE_FRAMES frames can end: video whose scene tokens jump
 * every frame (out of the model's domain, e.g. the bench's synthetic frames: a cut
 * 350 times in 600 frames without this) keeps the plain window instead of a cache
 * emptied at every frame.
 */
export class SceneCut {
  private previous: Float32Array | undefined;
  /** Consecutive frames whose scene tokens matched the frame before. */
  private stableFrames = 0;

  constructor(
    private readonly spec: NonNullable<ModelManifest['vision']['sceneCut']>,
    private readonly tokensPerFrame: number,
  ) {}

  /** Takes the next frame's embeddings [K*D]; true when it starts a new scene. */
  next(frameEmbeds: Float32Array): boolean {
    const now = this.pick(frameEmbeds);
    const before = this.previous;
    this.previous = now;
    if (before === undefined) return false;
    const same = cosine(before, now) >= this.spec.minCosine;
    const cut = !same && this.stableFrames >= STABLE_FRAMES;
    this.stableFrames = same ? this.stableFrames + 1 : 0;
    return cut;
  }

  private pick(frameEmbeds: Float32Array): Float32Array {
    const width = frameEmbeds.length / this.tokensPerFrame;
    const out = new Float32Array(this.spec.tokens.length * width);
    this.spec.tokens.forEach((token, i) => out.set(frameEmbeds.subarray(token * width, (token + 1) * width), i * width));
    return out;
  }
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na === 0 || nb === 0 ? 1 : dot / Math.sqrt(na * nb);
}
