import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';
import { readManifest, type ModelPackage } from '../engine/index.js';
import { errorMessage, UserError } from '../util/errors.js';
import { checkDownloaded, downloadResumable, fetchText, sha256File } from './download.js';
import type { Progress } from './progress.js';
import { packageFiles, type ModelStore } from './store.js';

/**
 * `cocaster models pull URL`: a package served as a folder (the URL of the folder or of
 * its model.json) or as one .tar. Downloads resume from where an interrupted pull
 * stopped (they are kept under the store's staging folder, keyed by URL); every file
 * is checked against its sha256 before the package is installed.
 */
export async function pullPackage(spec: string, store: ModelStore, progress: Progress): Promise<ModelPackage> {
  const url = parseUrl(spec);
  const isTar = url.pathname.endsWith('.tar');
  const source = isTar ? url : folderOf(url);
  // Keyed by what is fetched, so `…/pkg/` and `…/pkg/model.json` resume the same download.
  const cache = join(store.staging, 'downloads', createHash('sha256').update(source.href).digest('hex').slice(0, 16));
  mkdirSync(cache, { recursive: true });
  const pkg = isTar ? await pullTar(source, cache, store, progress) : await pullFolder(source, cache, store, progress);
  rmSync(cache, { recursive: true, force: true });
  return pkg;
}

function parseUrl(spec: string): URL {
  let url: URL;
  try {
    url = new URL(spec);
  } catch {
    throw new UserError(`'${spec}' is not a URL (models pull takes an http(s) URL of a package folder or .tar)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UserError(`models pull takes an http(s) URL, got ${url.protocol}`);
  return url;
}

/** The folder of a package given by its folder URL or its model.json URL, with a trailing slash. */
function folderOf(url: URL): URL {
  if (url.pathname.endsWith('/model.json')) return new URL('.', url);
  return url.pathname.endsWith('/') ? url : new URL(`${url.pathname}/${url.search}`, url);
}

async function pullFolder(base: URL, cache: string, store: ModelStore, progress: Progress): Promise<ModelPackage> {
  writeFileSync(join(cache, 'model.json'), await fetchText(new URL('model.json', base)));
  const pkg = readManifest(cache);
  refuseInstalled(store, pkg);
  for (const name of packageFiles(pkg).slice(1)) {
    const path = join(cache, name);
    const sha256 = expectedSha(pkg, name);
    if (existsSync(path) && (await sha256File(path)) === sha256) continue; // fetched by an earlier attempt
    await downloadResumable(new URL(name, base), path, progress);
    await checkDownloaded(path, name, sha256);
  }
  return installFrom(cache, store);
}

async function pullTar(url: URL, cache: string, store: ModelStore, progress: Progress): Promise<ModelPackage> {
  const archive = join(cache, 'package.tar');
  if (!existsSync(archive)) await downloadResumable(url, archive, progress);
  const unpacked = join(cache, 'package');
  rmSync(unpacked, { recursive: true, force: true });
  mkdirSync(unpacked);
  try {
    // Only plain files, at the top or in one folder; node-tar refuses paths that climb out.
    await tar.x({ file: archive, cwd: unpacked, strict: true, filter: (_path, entry) => 'type' in entry && entry.type === 'File' });
  } catch (err) {
    rmSync(archive, { force: true });
    throw new UserError(`${url.href} is not a readable .tar (${errorMessage(err)}); it was deleted, nothing was installed`);
  }
  const top = readdirSync(unpacked);
  const root = !top.includes('model.json') && top.length === 1 ? join(unpacked, top[0]!) : unpacked;
  refuseInstalled(store, readManifest(root));
  try {
    return await installFrom(root, store);
  } catch (err) {
    rmSync(archive, { force: true }); // a corrupted archive must not be resumed
    throw err;
  }
}

function refuseInstalled(store: ModelStore, pkg: ModelPackage): void {
  if (store.has(pkg.manifest.id)) throw new UserError(`model '${pkg.manifest.id}' is already installed (cocaster models remove ${pkg.manifest.id} first)`);
}

function expectedSha(pkg: ModelPackage, name: string): string {
  const entry = [...Object.values(pkg.manifest.files), ...pkg.manifest.externalData, pkg.manifest.demo].find((f) => f?.path === name);
  return entry!.sha256;
}

/** Moves what was fetched into a staging folder and lets the store check and install it. */
async function installFrom(dir: string, store: ModelStore): Promise<ModelPackage> {
  const stage = store.newStage(readManifest(dir).manifest.id);
  for (const name of packageFiles(readManifest(dir))) renameSync(join(dir, name), join(stage, name));
  return store.install(stage);
}
