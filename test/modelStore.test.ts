import { copyFileSync, cpSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import * as tar from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './integration/obsHarness.js';
import { FIXTURE, MEDIA, hasMedia, runCli, tempDir, type CliResult } from './helpers.js';

/** A static file server for package folders and .tar files, with a switch that cuts
 * the first download of one file halfway (the socket dies), and a log of Range headers. */
class PackageServer {
  readonly ranges: Array<{ path: string; range: string | undefined }> = [];
  cutOnce = new Set<string>();
  private server!: Server;

  constructor(private readonly root: string) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.serve(req, res));
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private serve(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = join(this.root, path);
    this.ranges.push({ path, range: req.headers.range });
    let body: Buffer;
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
      body = readFileSync(file);
    } catch {
      res.writeHead(404).end();
      return;
    }
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    res.writeHead(m ? 206 : 200, { 'Content-Length': body.length - from, ...(m ? { 'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}` } : {}) });
    if (this.cutOnce.delete(path)) {
      res.write(body.subarray(from, from + Math.floor((body.length - from) / 2)), () => res.socket?.destroy());
      return;
    }
    res.end(body.subarray(from));
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

const listedFiles = (dir: string) => readdirSync(dir).filter((f) => f !== 'golden.json').sort();

function expectOneLine(res: CliResult, code: number, pattern: RegExp): void {
  expect(res.code, res.stderr).toBe(code);
  const lines = res.stderr.trim().split('\n').filter((l) => !/ETA|\/s$|resuming/.test(l));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('cocaster models (the store)', () => {
  const served = tempDir('cocaster-served-');
  let server: PackageServer;
  let base: string;
  beforeAll(async () => {
    // The fixture as a folder, a corrupted copy, and a .tar.
    mkdirSync(join(served, 'pkg'));
    for (const f of listedFiles(FIXTURE)) copyFileSync(join(FIXTURE, f), join(served, 'pkg', f));
    cpSync(join(served, 'pkg'), join(served, 'bad'), { recursive: true });
    const decoder = readFileSync(join(served, 'bad', 'decoder_model_merged.onnx'));
    decoder[decoder.length >> 1]! ^= 0x01;
    writeFileSync(join(served, 'bad', 'decoder_model_merged.onnx'), decoder);
    await tar.c({ file: join(served, 'pkg.tar'), cwd: served }, ['pkg']);
    server = new PackageServer(served);
    base = await server.start();
  });
  afterAll(() => server.close());

  const env = () => ({ COCASTER_MODELS: tempDir('cocaster-store-'), COCASTER_CONFIG_DIR: tempDir('cocaster-cfg-') });

  it('pulls a package folder, resuming a download that was cut halfway; --model ID then runs it', async () => {
    const store = env();
    server.cutOnce.add('/pkg/decoder_model_merged.onnx');
    const first = await runCli(['models', 'pull', `${base}/pkg/`], store);
    expectOneLine(first, 2, /^cocaster: download of .*decoder_model_merged\.onnx was interrupted at \d+ bytes .*run the same command again to resume$/);
    expect((await runCli(['models', 'list'], store)).stdout).toMatch(/^no models in /);

    const second = await runCli(['models', 'pull', `${base}/pkg/model.json`], store);
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toMatch(/^installed tiny-random in .*\(every sha256 checked\)$/m);
    expect(second.stderr).toMatch(/decoder_model_merged\.onnx: resuming at /);
    expect(second.stderr).toMatch(/decoder_model_merged\.onnx {2}\S+ \S+ \/ \S+ \S+ {2}100% {2}\S+ \S+\/s/);
    const resumed = server.ranges.filter((r) => r.path === '/pkg/decoder_model_merged.onnx');
    expect(resumed.at(-1)!.range).toMatch(/^bytes=[1-9]\d*-$/);
    // Files fetched whole by the first attempt were not fetched again.
    expect(server.ranges.filter((r) => r.path === '/pkg/embed_tokens.onnx')).toHaveLength(1);

    expect((await runCli(['models', 'list'], store)).stdout).toMatch(/^tiny-random {2}\S+ \S+ {2}/m);
    expect(listedFiles(join(store.COCASTER_MODELS, 'tiny-random'))).toEqual(listedFiles(join(served, 'pkg')));
    if (hasMedia) {
      const run = await runCli(['run', '--model', 'tiny-random', '--source', `file:${join(MEDIA, 'basketball_scoreboard.mp4')}`, '--fast', '--ep', 'cpu'], store);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stderr).toMatch(/model tiny-random on cpu/);
    }
  }, 120_000);

  it('pulls a .tar, refuses a second install, and removes', async () => {
    const store = env();
    const pulled = await runCli(['models', 'pull', `${base}/pkg.tar`], store);
    expect(pulled.code, pulled.stderr).toBe(0);
    expectOneLine(await runCli(['models', 'pull', `${base}/pkg.tar`], store), 2, /^cocaster: model 'tiny-random' is already installed/);
    expect((await runCli(['models', 'remove', 'tiny-random'], store)).code).toBe(0);
    expect((await runCli(['models', 'list'], store)).stdout).toMatch(/^no models/);
    expectOneLine(await runCli(['models', 'remove', 'tiny-random'], store), 2, /^cocaster: no model 'tiny-random' in /);
  }, 60_000);

  it('refuses a corrupted package with one line and installs nothing', async () => {
    const store = env();
    expectOneLine(await runCli(['models', 'pull', `${base}/bad/`], store), 2, /^cocaster: checksum mismatch for decoder_model_merged\.onnx .*nothing was installed$/);
    expect((await runCli(['models', 'list'], store)).stdout).toMatch(/^no models/);
  }, 60_000);

  it('says plainly when the server cannot be reached, and refuses what is not an http(s) URL', async () => {
    const store = env();
    const port = await freePort();
    expectOneLine(await runCli(['models', 'pull', `http://127.0.0.1:${port}/pkg/`], store), 2, new RegExp(`^cocaster: cannot reach 127\\.0\\.0\\.1:${port}: ECONNREFUSED; nothing was installed`));
    expectOneLine(await runCli(['models', 'pull', 'file:///etc/passwd'], store), 2, /^cocaster: models pull takes an http\(s\) URL, got file:$/);
    expectOneLine(await runCli(['run', '--source', 'demo', '--model', 'not-installed'], store), 2, /^cocaster: model not-installed: no folder not-installed and no model 'not-installed' in /);
  }, 60_000);

  it('adds a local package folder after checking it', async () => {
    const store = env();
    const added = await runCli(['models', 'add', join(served, 'pkg')], store);
    expect(added.code, added.stderr).toBe(0);
    expectOneLine(await runCli(['models', 'add', join(served, 'bad')], env()), 2, /^cocaster: model package tiny-random: checksum mismatch for decoder_model_merged\.onnx/);
  }, 60_000);
});

describe('cocaster models verify', () => {
  /** The fixture with the first 60 frames of its golden trace as reference.json. */
  function withReference(edit: (trace: Array<Record<string, unknown>>) => void = () => {}): string {
    const dir = join(tempDir('cocaster-verify-'), 'pkg');
    cpSync(FIXTURE, dir, { recursive: true });
    const golden = JSON.parse(readFileSync(join(FIXTURE, 'golden.json'), 'utf8')) as { frames: { count: number; fps: number }; runs: Array<{ trace: Array<{ t: number } & Record<string, unknown>> }> };
    const count = 60;
    const run = golden.runs[0]!;
    run.trace = run.trace.filter((e) => e.t < count / golden.frames.fps);
    edit(run.trace);
    writeFileSync(join(dir, 'reference.json'), JSON.stringify({ ...golden, frames: { ...golden.frames, count }, runs: [run] }));
    return dir;
  }

  it('agrees with a reference made by the Python implementation', async () => {
    const res = await runCli(['models', 'verify', withReference(), '--ep', 'cpu']);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toMatch(/^run \(cap \d+\): decisions 100\.0% of 60 frames, spoken lines (\d+)\/\1 identical, max \|ΔP\(interval\)\| \S+: agrees$/m);
    expect(res.stdout).toMatch(/^tiny-random on cpu: verified$/m);
  }, 120_000);

  it('exits 1 when the engine and the reference disagree', async () => {
    const dir = withReference((trace) => {
      const frame = trace.find((e) => e.type === 'frame' && e.decision === 'silent')!;
      frame.decision = 'speak';
    });
    const res = await runCli(['models', 'verify', dir, '--ep', 'cpu']);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/decisions 98\.3% of 60 frames.*: DISAGREES$/m);
    expect(res.stdout).toMatch(/does not match its reference$/m);
  }, 120_000);
});
