import { existsSync, readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { errorMessage, UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export const EXECUTION_PROVIDERS = ['auto', 'webgpu', 'cuda', 'dml', 'coreml', 'cpu'] as const;
export type ExecutionProviderChoice = (typeof EXECUTION_PROVIDERS)[number];
export type ExecutionProvider = Exclude<ExecutionProviderChoice, 'auto'>;

export function parseExecutionProvider(value: string): ExecutionProviderChoice {
  if ((EXECUTION_PROVIDERS as readonly string[]).includes(value)) return value as ExecutionProviderChoice;
  throw new UserError(`unknown execution provider '${value}' (choose one of ${EXECUTION_PROVIDERS.join(', ')})`);
}

/** Providers this onnxruntime build ships (a CUDA build adds 'cuda'). */
export function bundledProviders(): Set<string> {
  return new Set(ort.listSupportedBackends().filter((b) => b.bundled).map((b) => b.name));
}

/** Lavapipe (Mesa's software Vulkan) would make WebGPU ~35x slower than the CPU
 * provider, and Mesa installs driver manifests for GPUs that are not there: on
 * Linux, `auto` only tries WebGPU when a GPU device node exists. */
function hasGpuDevice(): boolean {
  const dri = existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  return dri || existsSync('/dev/nvidia0');
}

/** Providers `auto` tries, best first. */
export function autoCandidates(platform = process.platform): ExecutionProvider[] {
  const bundled = bundledProviders();
  const order: ExecutionProvider[] =
    platform === 'win32' ? ['cuda', 'dml', 'webgpu'] : platform === 'darwin' ? ['coreml', 'webgpu'] : ['cuda', 'webgpu'];
  return [
    ...order.filter((ep) => bundled.has(ep) && (ep !== 'webgpu' || platform !== 'linux' || hasGpuDevice())),
    'cpu',
  ];
}

export interface SessionRequest {
  path: string;
  /** Outputs kept on the device between runs (the KV cache on WebGPU). */
  deviceOutputs?: string[];
  /** Intra-op threads of this session (default: the options' threads). */
  threads?: number;
}

export interface RuntimeOptions {
  ep: ExecutionProviderChoice;
  threads?: number;
  logger: Logger;
}

/** Creates all sessions of a model on one provider; `auto` falls back in order. */
export async function createSessions(
  requests: SessionRequest[],
  options: RuntimeOptions,
): Promise<{ provider: ExecutionProvider; sessions: ort.InferenceSession[] }> {
  const bundled = bundledProviders();
  if (options.ep !== 'auto' && !bundled.has(options.ep)) {
    const hint = options.ep === 'cuda' ? ' (install it with: npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12)' : '';
    throw new UserError(`execution provider '${options.ep}' is not available on this machine${hint}`);
  }
  const candidates = options.ep === 'auto' ? autoCandidates() : [options.ep];
  let lastError: unknown;
  for (const provider of candidates) {
    try {
      const sessions = [];
      for (const req of requests) sessions.push(await ort.InferenceSession.create(req.path, sessionOptions(provider, req, options)));
      return { provider, sessions };
    } catch (err) {
      lastError = err;
      options.logger.warn(`execution provider ${provider} failed: ${errorMessage(err).split('\n')[0]}`);
    }
  }
  throw new UserError(`cannot load the model on ${candidates.join(', ')}: ${errorMessage(lastError).split("\n")[0]}`);
}

function sessionOptions(provider: ExecutionProvider, req: SessionRequest, options: RuntimeOptions): ort.InferenceSession.SessionOptions {
  const threads = req.threads ?? options.threads ?? Math.min(4, availableParallelism());
  const base: ort.InferenceSession.SessionOptions = {
    executionProviders: [provider],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    logSeverityLevel: 3,
  };
  // On the CPU the vision worker runs beside the decoder: pool threads that spin
  // while they wait would take its core (bench: fps at 500 cached tokens 80 with
  // spinning, 121 without, decoder on 2 threads).
  if (provider === 'cpu' && threads > 1) base.extra = { session: { intra_op: { allow_spinning: '0' } } };
  if (provider === 'webgpu' && req.deviceOutputs?.length) {
    base.preferredOutputLocation = Object.fromEntries(req.deviceOutputs.map((n) => [n, 'gpu-buffer' as const]));
  }
  return base;
}

export interface TensorSpec {
  name: string;
  rank: number;
  type: ort.Tensor.Type;
}

/** Checks a session's input and output names, element types and ranks. */
export function checkSignature(session: ort.InferenceSession, file: string, inputs: TensorSpec[], outputs: TensorSpec[]): void {
  const check = (kind: 'input' | 'output', metas: readonly ort.InferenceSession.ValueMetadata[], specs: TensorSpec[]) => {
    const names = metas.map((m) => m.name);
    for (const spec of specs) {
      const meta = metas.find((m) => m.name === spec.name);
      if (!meta) throw new UserError(`${file}: missing ${kind} '${spec.name}' (has ${names.join(', ') || 'none'})`);
      if (!meta.isTensor) throw new UserError(`${file}: ${kind} '${spec.name}' is not a tensor`);
      if (meta.shape.length !== spec.rank) throw new UserError(`${file}: ${kind} '${spec.name}' has rank ${meta.shape.length}, expected ${spec.rank}`);
      if (meta.type !== spec.type) throw new UserError(`${file}: ${kind} '${spec.name}' is ${meta.type}, expected ${spec.type}`);
    }
    const extra = names.filter((n) => !specs.some((s) => s.name === n));
    if (kind === 'input' && extra.length) throw new UserError(`${file}: unexpected input '${extra[0]}'`);
  };
  check('input', session.inputMetadata, inputs);
  check('output', session.outputMetadata, outputs);
}
