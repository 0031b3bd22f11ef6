// The body of WorkerVision's thread: one vision session, frames in, embeddings out.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { errorMessage } from '../util/errors.js';
import { encodeWith, type VisionReply, type VisionRequest, type VisionWorkerData } from './vision.js';

const data = workerData as VisionWorkerData;
const port = parentPort!;
const reply = (m: VisionReply, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

try {
  const session = await ort.InferenceSession.create(data.path, {
    executionProviders: ['cpu'],
    intraOpNumThreads: data.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  });
  // One run at a time, in order: the main thread keeps at most a frame or two in flight.
  let queue = Promise.resolve();
  port.on('message', (m: VisionRequest) => {
    queue = queue.then(async () => {
      try {
        const { embeds, timing } = await encodeWith(session, data.vision, m.rgbs);
        reply({ type: 'encoded', id: m.id, embeds, timing }, embeds.map((e) => e.buffer as ArrayBuffer));
      } catch (err) {
        reply({ type: 'error', id: m.id, message: errorMessage(err) });
      }
    });
  });
  reply({ type: 'ready' });
} catch (err) {
  reply({ type: 'failed', message: errorMessage(err) });
}
