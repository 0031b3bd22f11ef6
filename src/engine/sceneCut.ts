import type { ModelManifest } from './manifest.js';

/**
 * A new scene in the stream, seen in the frame embeddings a package declares to
 * identify it (cocaster-tiny: its home and away team tokens, which name the teams,
 * their kits and scores): when those embeddings' cosine to the previous frame's
 * falls below the package's minCosine, what the earlier frames showed belongs to
 * another scene and the cache policy drops them (their text stays).
 */
export class SceneCut {
  private previous: Float32Array | undefined;

  constructor(
    private readonly spec: NonNullable<ModelManifest['vision']['sceneCut']>,
    private readonly tokensPerFrame: number,
  ) {}

  /** Takes the next frame's embeddings [K*D]; true when it starts a new scene. */
  next(frameEmbeds: Float32Array): boolean {
    const now = this.pick(frameEmbeds);
    const before = this.previous;
    this.previous = now;
    return before !== undefined && cosine(before, now) < this.spec.minCosine;
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
