import { cpSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readManifest, verifyFiles, type ModelPackage } from '../engine/index.js';
import { UserError } from '../util/errors.js';
import { sha256File } from './download.js';

/** What `cocaster models list` shows of an installed package. */
export interface StoredModel {
  id: string;
  name: string;
  dir: string;
  bytes: number;
}

/** Ids name folders: nothing that could climb out of the store. */
const SAFE_ID = /^[A-Za-z0-9][\w.-]{0,127}$/;

export function checkModelId(id: string): string {
  if (!SAFE_ID.test(id) || id.includes('..')) throw new UserError(`'${id}' is not a usable model id (letters, digits, '.', '_' and '-')`);
  return id;
}

/**
 * Installed model packages, one folder per id under `root` (the config dir's
 * models/, or $COCASTER_MODELS). A package enters the store only whole and checked:
 * it is assembled in a staging folder, every sha256 verified, then renamed in.
 */
export class ModelStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Where downloads and copies are assembled (same file system, so the final rename is atomic). */
  get staging(): string {
    return join(this.root, '.staging');
  }

  dirOf(id: string): string {
    return join(this.root, checkModelId(id));
  }

  has(id: string): boolean {
    return SAFE_ID.test(id) && existsSync(join(this.root, id, 'model.json'));
  }

  list(): StoredModel[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith('.') && existsSync(join(this.root, e.name, 'model.json')))
      .map((e) => {
        const dir = join(this.root, e.name);
        const { manifest } = readManifest(dir);
        return { id: e.name, name: manifest.name, dir, bytes: folderBytes(dir) };
      });
  }

  /** Copies a package folder into the store under its manifest id, after checking it. */
  async add(source: string): Promise<ModelPackage> {
    const pkg = readManifest(source);
    await verifyPackage(pkg);
    const stage = this.newStage(pkg.manifest.id);
    for (const file of packageFiles(pkg)) cpSync(join(pkg.dir, file), join(stage, file));
    return this.install(stage);
  }

  /** A fresh staging folder for a package being assembled. */
  newStage(id: string): string {
    const stage = join(this.staging, `${checkModelId(id)}-${process.pid}-${Date.now()}`);
    mkdirSync(stage, { recursive: true });
    return stage;
  }

  /** Verifies an assembled package and moves it into place; a bad one is deleted. */
  async install(stage: string): Promise<ModelPackage> {
    let pkg: ModelPackage;
    try {
      pkg = readManifest(stage);
      await verifyPackage(pkg);
    } catch (err) {
      rmSync(stage, { recursive: true, force: true });
      throw err;
    }
    const target = this.dirOf(pkg.manifest.id);
    if (existsSync(target)) throw new UserError(`model '${pkg.manifest.id}' is already installed (cocaster models remove ${pkg.manifest.id} first)`);
    renameSync(stage, target);
    return readManifest(target);
  }

  remove(id: string): void {
    if (!this.has(id)) throw new UserError(`no model '${id}' in ${this.root}`);
    rmSync(this.dirOf(id), { recursive: true, force: true });
  }
}

/** Every listed file against its sha256, the demo video included. */
async function verifyPackage(pkg: ModelPackage): Promise<void> {
  await verifyFiles(pkg);
  const demo = pkg.manifest.demo;
  if (demo && (!existsSync(join(pkg.dir, demo.path)) || (await sha256File(join(pkg.dir, demo.path))) !== demo.sha256)) throw new UserError(`model package ${pkg.manifest.id}: checksum mismatch for ${demo.path}`);
}

/** Every file a package consists of: model.json and the files it lists. */
export function packageFiles(pkg: ModelPackage): string[] {
  const listed = [...Object.values(pkg.manifest.files), ...pkg.manifest.externalData, pkg.manifest.demo].flatMap((f) => (f ? [f.path] : []));
  return ['model.json', ...listed];
}

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0);
}

/** `--model X`: a folder with a model.json, else an id in the store. */
export function resolveModel(spec: string, store: ModelStore): string {
  if (existsSync(join(spec, 'model.json'))) return spec;
  if (store.has(spec)) return store.dirOf(spec);
  const hint = existsSync(spec) ? `${spec} has no model.json` : `no folder ${spec} and no model '${spec}' in ${store.root} (cocaster models list)`;
  throw new UserError(`model ${spec}: ${hint}`);
}

/** The store a user has: $COCASTER_MODELS, else models/ in the config dir. */
export function openStore(configDir: string, env: NodeJS.ProcessEnv = process.env): ModelStore {
  return new ModelStore(env.COCASTER_MODELS || join(configDir, 'models'));
}
