import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { ModelManifest } from './manifest.js';
import { toPixelValues } from './preprocess.js';

/** Time spent on one frame, in milliseconds. */
export interface VisionTiming {
  preprocess: number;
  vision: number;
}

/** What a run of the vision encoder gives: each frame's tokensPerFrame embeddings, flattened [K*D]. */
export interface Encoded {
  embeds: Float32Array[];
  timing: VisionTiming;
}

/** Frames to their embeddings, several in one run (one read of the encoder's weights). */
export interface VisionEncoder {
  encode(rgbs: Uint8Array[]): Promise<Encoded>;
  release(): Promise<void>;
}

/** The vision session in this thread (GPU providers: the device does the work). */
export class InlineVision implements VisionEncoder {
  constructor(
    private readonly session: ort.InferenceSession,
    private readonly vision: ModelManifest['vision'],
  ) {}

  async encode(rgbs: Uint8Array[]): Promise<Encoded> {
    return encodeWith(this.session, this.vision, rgbs);
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** One run over all frames: pixel_values [N,3,H,W] -> N frames' embeddings (copies, so the caller owns them). */
export async function encodeWith(session: ort.InferenceSession, vision: ModelManifest['vision'], rgbs: Uint8Array[]): Promise<Encoded> {
  const t0 = performance.now();
  const plane = 3 * vision.height * vision.width;
  const pixels = new Float32Array(rgbs.length * plane);
  rgbs.forEach((rgb, i) => toPixelValues(rgb, vision, pixels.subarray(i * plane, (i + 1) * plane)));
  const t1 = performance.now();
  const out = await session.run({ pixel_values: new ort.Tensor('float32', pixels, [rgbs.length, 3, vision.height, vision.width]) });
  const all = (await out[session.outputNames[0]!]!.getData()) as Float32Array;
  const each = all.length / rgbs.length;
  const embeds = rgbs.map((_, i) => all.slice(i * each, (i + 1) * each));
  return { embeds, timing: { preprocess: t1 - t0, vision: performance.now() - t1 } };
}

export interface VisionWorkerData {
  module: string;
  path: string;
  vision: ModelManifest['vision'];
  threads: number;
}

export type VisionRequest = { id: number; rgbs: Uint8Array[] };
export type VisionReply =
  | { type: 'ready' }
  | { type: 'failed'; message: string }
  | ({ type: 'encoded'; id: number } & Encoded)
  | { type: 'error'; id: number; message: string };

/**
 * The CPU vision session in a worker thread of its own: frame k+1 is encoded on
 * one core while the decoder works on frame k on the other (VideoLLM-online
 * encodes frames asynchronously too). onnxruntime-node runs a session
 * synchronously on the thread that calls it, so a second thread is the only way
 * to overlap the two.
 */
export class WorkerVision implements VisionEncoder {
  private readonly pending = new Map<number, { resolve: (r: Encoded) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: VisionReply) => {
      if (m.type !== 'encoded' && m.type !== 'error') return;
      const waiter = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (this.pending.size === 0) worker.unref();
      if (m.type === 'encoded') waiter?.resolve({ embeds: m.embeds, timing: m.timing });
      else waiter?.reject(new Error(m.message));
    });
    worker.on('error', (err: Error) => this.failAll(err));
    worker.on('exit', () => this.failAll(new Error('the vision worker exited')));
  }

  static async start(path: string, vision: ModelManifest['vision'], threads: number): Promise<WorkerVision> {
    // The worker runs TypeScript through tsx, as the CLI does (bin/cocaster.js).
    const data: VisionWorkerData = { module: new URL('./visionWorker.ts', import.meta.url).href, path, vision, threads };
    const boot = `const { workerData } = require('node:worker_threads');
      import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(workerData.module); });`;
    const worker = new Worker(boot, { eval: true, workerData: data });
    await new Promise<void>((resolve, reject) => {
      worker.once('error', reject);
      worker.on('message', function ready(m: VisionReply) {
        if (m.type === 'ready') resolve();
        else if (m.type === 'failed') reject(new Error(m.message));
        else return;
        worker.off('message', ready);
        worker.off('error', reject);
      });
    }).catch(async (err: unknown) => {
      await worker.terminate();
      throw err;
    });
    worker.unref();
    return new WorkerVision(worker);
  }

  encode(rgbs: Uint8Array[]): Promise<Encoded> {
    const id = this.nextId++;
    // Held while a frame is out, so the process waits for it; idle, it never keeps the process alive.
    this.worker.ref();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // Copies: the caller may reuse its frame buffers.
      this.worker.postMessage({ id, rgbs: rgbs.map((rgb) => rgb.slice()) } satisfies VisionRequest);
    });
  }

  async release(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
    this.failAll(new Error('the model was released'));
  }

  private failAll(err: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}
