import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { FIXTURE, ROOT, tempDir } from './helpers.js';

export interface DaemonProcess {
  child: ChildProcess;
  configDir: string;
  port: number;
  base: string;
  tokens: { control: string; overlay: string };
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code (null when killed). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** A config that talks on nearly every frame of the demo test card (the random
 * fixture's P(interval) stays below 0.99), on a free port. */
export function testConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { model: FIXTURE, ep: 'cpu', threshold: 0.99, server: { port: 0 }, ...overrides };
}

/** Runs `cocaster start` as a user would and waits for its URLs. */
export async function startDaemonProcess(config = testConfig(), configDir = tempDir('cocaster-daemon-'), env: NodeJS.ProcessEnv = {}): Promise<DaemonProcess> {
  const configFile = join(configDir, 'config.json');
  writeFileSync(configFile, JSON.stringify(config));
  const child = spawn(process.execPath, [join(ROOT, 'bin/cocaster.js'), 'start', '--config', configFile], {
    cwd: ROOT,
    env: { ...process.env, COCASTER_CONFIG_DIR: configDir, COCASTER_LOG: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  const exited = new Promise<number | null>((res) => child.on('close', (code) => res(code)));
  const port = await new Promise<number>((res, rej) => {
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
      const m = /overlay: +http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr);
      if (m && /control panel: /.test(stderr)) res(Number(m[1]));
    });
    void exited.then((code) => rej(new Error(`daemon exited (${code}) before listening: ${stderr}`)));
  });
  const tokens = JSON.parse(readFileSync(join(configDir, 'tokens.json'), 'utf8')) as { control: string; overlay: string };
  return {
    child, configDir, port, base: `http://127.0.0.1:${port}`, tokens,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

export interface RawResponse {
  status: number;
  body: string;
}

/** An HTTP request with full control over Host and Origin (fetch forbids setting Host). */
export function rawRequest(port: number, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<RawResponse> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { Host: `127.0.0.1:${port}`, ...headers } }, (r) => {
      let data = '';
      r.on('data', (d: Buffer) => (data += d.toString()));
      r.on('end', () => res({ status: r.statusCode ?? 0, body: data }));
    });
    req.on('error', rej);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export async function until<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
