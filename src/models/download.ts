import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { errorMessage, UserError } from '../util/errors.js';
import type { Progress } from './progress.js';

/** Why fetch could not even talk to the server, in words a streamer acts on. */
function unreachable(url: URL, err: unknown): UserError {
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  const offline = cause === 'ENOTFOUND' || cause === 'EAI_AGAIN' || cause === 'ENETUNREACH';
  const why = offline ? 'the network is unreachable (offline?)' : cause ?? errorMessage(err);
  return new UserError(`cannot reach ${url.host}: ${why}; nothing was installed, run the same command again to resume`);
}

async function request(url: URL, headers: Record<string, string> = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'follow' });
  } catch (err) {
    throw unreachable(url, err);
  }
  if (!res.ok) throw new UserError(`${url.href}: HTTP ${res.status} ${res.statusText}`.trim());
  return res;
}

/** A small file (model.json) into memory. */
export async function fetchText(url: URL): Promise<string> {
  return (await request(url)).text();
}

/**
 * Downloads `url` to `path`, resuming from `path.part` when an earlier attempt was
 * cut off (HTTP Range). The part file is renamed to `path` only when the body ended
 * at its announced length; an interrupted transfer leaves the part for next time.
 */
export async function downloadResumable(url: URL, path: string, progress: Progress): Promise<void> {
  const part = `${path}.part`;
  mkdirSync(join(path, '..'), { recursive: true });
  const have = existsSync(part) ? statSync(part).size : 0;
  const res = await request(url, have > 0 ? { Range: `bytes=${have}-` } : {});
  // 206: the server resumes; 200: it sends everything again (no Range support).
  const resumed = res.status === 206;
  const start = resumed ? have : 0;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? start + length : undefined;
  progress.begin(url.pathname.split('/').pop() ?? url.href, start, total);
  const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' });
  let written = start;
  try {
    if (!res.body) throw new Error('empty response');
    for await (const chunk of res.body) {
      const bytes = chunk as Uint8Array;
      if (!out.write(bytes)) await new Promise((r) => out.once('drain', r));
      written += bytes.length;
      progress.update(written);
    }
  } catch (err) {
    await new Promise((r) => out.end(r));
    throw new UserError(`download of ${url.href} was interrupted at ${written} bytes (${errorMessage(err)}); run the same command again to resume`);
  }
  await new Promise((r) => out.end(r));
  if (total !== undefined && written !== total) {
    throw new UserError(`download of ${url.href} ended at ${written} of ${total} bytes; run the same command again to resume`);
  }
  progress.end(written);
  renameSync(part, path);
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** A downloaded file must match the package's checksum; a corrupted one is deleted. */
export async function checkDownloaded(path: string, name: string, sha256: string): Promise<void> {
  const actual = await sha256File(path);
  if (actual === sha256) return;
  rmSync(path, { force: true });
  throw new UserError(`checksum mismatch for ${name} (expected ${sha256.slice(0, 12)}…, got ${actual.slice(0, 12)}…): the download is corrupted and was deleted; nothing was installed`);
}
