import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LiveModel, type EngineEvent, type ExecutionProvider } from '../src/engine/index.js';
import { silentLogger } from '../src/util/log.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const FIXTURE = join(ROOT, 'test/fixtures/tiny-random');
/** The same family with a decoder side branch (its KV cache has more layers than the stack). */
export const SIDE_FIXTURE = join(ROOT, 'test/fixtures/tiny-random-side');
/** tiny-random with kv_shift.onnx and maxContext 512: its golden trace compacts the KV cache. */
export const COMPACT_FIXTURE = join(ROOT, 'test/fixtures/tiny-random-compact');
export const MEDIA = resolve(ROOT, '../shared/media');
export const hasMedia = existsSync(join(MEDIA, 'crafter_gameplay_hud.mp4'));

export function tempDir(prefix = 'cocaster-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Loads the fixture on a provider, or returns the reason it cannot run here. */
export async function loadFixture(ep: ExecutionProvider, dir = FIXTURE): Promise<LiveModel | string> {
  try {
    return await LiveModel.load(dir, { ep, logger: silentLogger });
  } catch (err) {
    return (err as Error).message;
  }
}

export function collect(): { events: EngineEvent[]; listener: (e: EngineEvent) => void } {
  const events: EngineEvent[] = [];
  return { events, listener: (e) => events.push(e) };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI (bin/cocaster.js) as a user would. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/cocaster.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', rej);
    child.on('close', (code) => res({ code, stdout, stderr }));
  });
}
