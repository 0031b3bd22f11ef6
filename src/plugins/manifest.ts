import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import type { PluginManifest, SettingSchema, SettingValue } from '../plugin-api/index.js';
import { errorMessage, UserError } from '../util/errors.js';
import { ENGINE_RANGE, satisfies } from './engineRange.js';

/** A plugin ready to start: its manifest, where it lives, and its validated settings. */
export interface LoadedPlugin {
  manifest: PluginManifest;
  version: string;
  dir: string;
  /** The module the host imports (package.json `main`, default index.js). */
  entry: string;
  settings: Record<string, SettingValue>;
}

const ID = z.string().regex(/^[a-z0-9][a-z0-9-]{0,49}$/, 'must be lower-case letters, digits and dashes');

const SettingSchemaZ: z.ZodType<SettingSchema> = z
  .object({
    type: z.enum(['string', 'number', 'integer', 'boolean', 'array']),
    description: z.string().optional(),
    default: z.json().optional(),
    enum: z.array(z.union([z.string(), z.number()])).min(1).optional(),
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    items: z.object({ type: z.enum(['string', 'number', 'integer', 'boolean']) }).strict().optional(),
  })
  .strict() as z.ZodType<SettingSchema>;

const ManifestZ = z
  .object({
    id: ID,
    engine: z.string().regex(ENGINE_RANGE, "must be '*', '1.2.3', '^1.2.3', '~1.2.3' or '>=1.2.3'"),
    contributes: z
      .object({
        outputs: z.array(z.object({ id: ID, title: z.string().min(1) }).strict()).optional(),
        configuration: z.object({ properties: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/), SettingSchemaZ), required: z.array(z.string()).optional() }).strict().optional(),
        commands: z.array(z.object({ id: z.string().regex(/^[a-z][A-Za-z0-9.-]*$/), title: z.string().min(1) }).strict()).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const PackageZ = z.object({ version: z.string().regex(/^\d+\.\d+\.\d+/, 'must be a semver version'), main: z.string().optional(), cocaster: ManifestZ });

const describe = (issue: z.core.$ZodIssue): string => {
  const path = issue.path.map(String).join('.');
  return path ? `field '${path}': ${issue.message}` : issue.message;
};

const isPath = (spec: string) => spec.startsWith('.') || isAbsolute(spec);

/** A folder, an npm package installed where the daemon runs, or a built-in's name. */
export function resolvePluginDir(spec: string, cwd: string, builtins: Readonly<Record<string, string>>): string {
  if (isPath(spec)) {
    const dir = resolve(cwd, spec);
    if (existsSync(join(dir, 'package.json'))) return dir;
    throw new UserError(`plugin '${spec}': no package.json in ${dir}`);
  }
  const builtin = builtins[spec];
  if (builtin) return builtin;
  try {
    return dirname(createRequire(join(cwd, 'noop.js')).resolve(`${spec}/package.json`));
  } catch {
    throw new UserError(`plugin '${spec}': not found (a folder path, a built-in plugin, or an npm package installed in ${cwd})`);
  }
}

export function readManifest(spec: string, dir: string, cocasterVersion: string): Omit<LoadedPlugin, 'settings'> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  } catch (err) {
    throw new UserError(`plugin '${spec}': cannot read package.json: ${errorMessage(err)}`);
  }
  const parsed = PackageZ.safeParse(raw);
  if (!parsed.success) throw new UserError(`plugin '${spec}': bad manifest (package.json): ${describe(parsed.error.issues[0]!)}`);
  const { cocaster: manifest, version, main } = parsed.data;
  if (!satisfies(cocasterVersion, manifest.engine)) {
    throw new UserError(`plugin '${manifest.id}' needs cocaster ${manifest.engine}; this is ${cocasterVersion}`);
  }
  const entry = resolve(dir, main ?? 'index.js');
  if (!existsSync(entry) || !statSync(entry).isFile()) throw new UserError(`plugin '${manifest.id}': entry ${entry} does not exist`);
  return { manifest: manifest as PluginManifest, version, dir, entry };
}

function settingZ(s: SettingSchema): z.ZodType<SettingValue> {
  const scalar = (type: SettingSchema['type']): z.ZodType<SettingValue> => {
    if (type === 'string') return z.string();
    if (type === 'boolean') return z.boolean();
    let n = type === 'integer' ? z.number().int() : z.number();
    if (s.minimum !== undefined) n = n.min(s.minimum);
    if (s.maximum !== undefined) n = n.max(s.maximum);
    return n;
  };
  let base: z.ZodType<SettingValue> = s.type === 'array' ? z.array(scalar(s.items?.type ?? 'string')) : scalar(s.type);
  if (s.enum) {
    const allowed = s.enum;
    base = base.refine((v) => allowed.includes(v as string | number), `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  }
  return base;
}

/** Where plugins and their settings were given, for error messages: the config
 * file's `plugins` and `pluginSettings`, or `cocaster run`'s flags. */
export interface PluginOrigin {
  /** Before every message ('bad config: ' for the file). */
  prefix: string;
  settings(id: string): string;
  list: string;
}

export const CONFIG_ORIGIN: PluginOrigin = { prefix: 'bad config: ', settings: (id) => `pluginSettings.${id}`, list: "'plugins'" };
export const FLAGS_ORIGIN: PluginOrigin = { prefix: '', settings: (id) => `--plugin-setting ${id}`, list: 'the --plugin flags' };

/** Checks a plugin's settings against its manifest's configuration; fills defaults. */
export function validateSettings(manifest: PluginManifest, raw: unknown, origin: PluginOrigin = CONFIG_ORIGIN): Record<string, SettingValue> {
  const config = manifest.contributes?.configuration;
  const required = new Set(config?.required ?? []);
  const shape: Record<string, z.ZodType<SettingValue | undefined>> = {};
  for (const [key, s] of Object.entries(config?.properties ?? {})) {
    const field = settingZ(s);
    shape[key] = s.default !== undefined ? field.default(s.default) : required.has(key) ? field : field.optional();
  }
  const result = z.object(shape).strict().safeParse(raw ?? {});
  if (!result.success) throw new UserError(`${origin.prefix}${origin.settings(manifest.id)}: ${describe(result.error.issues[0]!)}`);
  return Object.fromEntries(Object.entries(result.data).filter(([, v]) => v !== undefined)) as Record<string, SettingValue>;
}

export interface LoadPluginsOptions {
  cwd: string;
  cocasterVersion: string;
  builtins: Readonly<Record<string, string>>;
  /** Default: the config file. */
  origin?: PluginOrigin;
}

/** Every configured plugin, manifest and settings checked, before anything starts:
 * a bad one is a UserError (one line, exit 2). */
export function loadPlugins(specs: readonly string[], settings: Readonly<Record<string, unknown>>, opts: LoadPluginsOptions): LoadedPlugin[] {
  const origin = opts.origin ?? CONFIG_ORIGIN;
  const plugins = specs.map((spec) => readManifest(spec, resolvePluginDir(spec, opts.cwd, opts.builtins), opts.cocasterVersion));
  const ids = new Set<string>();
  for (const p of plugins) {
    if (ids.has(p.manifest.id)) throw new UserError(`${origin.prefix}plugin id '${p.manifest.id}' is listed twice in ${origin.list}`);
    ids.add(p.manifest.id);
  }
  for (const id of Object.keys(settings)) {
    if (!ids.has(id)) throw new UserError(`${origin.prefix}${origin.settings(id)}: no plugin with that id in ${origin.list}`);
  }
  return plugins.map((p) => ({ ...p, settings: validateSettings(p.manifest, settings[p.manifest.id], origin) }));
}
