import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { satisfies } from '../../src/plugins/engineRange.js';
import { pluginEnv } from '../../src/plugins/env.js';
import { loadPlugins, validateSettings } from '../../src/plugins/manifest.js';
import { BUILTIN_PLUGINS, COCASTER_VERSION, loadConfiguredPlugins } from '../../src/plugins/pluginHost.js';
import { UserError } from '../../src/util/errors.js';
import { ROOT, runCli, tempDir } from '../helpers.js';

const GOOD = join(ROOT, 'test/fixtures/plugins/good');
const opts = (cwd = ROOT) => ({ cwd, cocasterVersion: '0.1.0', builtins: {} });

/** A plugin folder with this `cocaster` manifest (and an index.js). */
function pluginDir(manifest: unknown, extra: Record<string, unknown> = {}): string {
  const dir = tempDir('cocaster-plugin-');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'x', version: '1.0.0', cocaster: manifest, ...extra }));
  writeFileSync(join(dir, 'index.js'), 'export function activate() { return []; }\n');
  return dir;
}

const oneLineError = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a UserError');
};

describe('plugin manifests', () => {
  it('reads a folder plugin: id, version, entry (package.json main) and settings with defaults', () => {
    const [p] = loadPlugins([GOOD], { good: { askAfterFrames: 5 } }, opts());
    expect(p).toMatchObject({ version: '1.0.0', dir: GOOD, entry: join(GOOD, 'index.ts'), settings: { question: 'What is on screen?', askAfterFrames: 5 } });
    expect(p!.manifest.contributes?.commands).toEqual([{ id: 'good.hello', title: 'Say hello' }]);
  });

  it('resolves relative paths from the working directory and npm packages from its node_modules', () => {
    expect(loadPlugins(['./test/fixtures/plugins/good'], {}, opts())[0]!.dir).toBe(GOOD);
    const cwd = tempDir();
    const pkg = join(cwd, 'node_modules', 'cocaster-plugin-demo');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'cocaster-plugin-demo', version: '2.0.0', cocaster: { id: 'demo', engine: '*' } }));
    writeFileSync(join(pkg, 'index.js'), '');
    expect(loadPlugins(['cocaster-plugin-demo'], {}, opts(cwd))[0]).toMatchObject({ version: '2.0.0', dir: pkg });
  });

  it('knows the built-in obs-text plugin by name', () => {
    const [p] = loadConfiguredPlugins(['obs-text'], {});
    expect(p!.dir).toBe(BUILTIN_PLUGINS['obs-text']);
    expect(p!.manifest.id).toBe('obs-text');
  });

  it('refuses what it cannot load, one line each', () => {
    expect(oneLineError(() => loadPlugins(['./nope'], {}, opts()))).toMatch(/^plugin '\.\/nope': no package\.json in /);
    expect(oneLineError(() => loadPlugins(['no-such-cocaster-plugin'], {}, opts()))).toMatch(/^plugin 'no-such-cocaster-plugin': not found/);
    expect(oneLineError(() => loadPlugins([pluginDir({ id: 'Bad Id', engine: '*' })], {}, opts()))).toMatch(/bad manifest \(package\.json\): field 'cocaster\.id': must be lower-case/);
    expect(oneLineError(() => loadPlugins([pluginDir({ id: 'x', engine: '*', activate: 1 })], {}, opts()))).toMatch(/bad manifest/);
    expect(oneLineError(() => loadPlugins([pluginDir({ id: 'x', engine: '^2.0.0' })], {}, opts()))).toBe("plugin 'x' needs cocaster ^2.0.0; this is 0.1.0");
    expect(oneLineError(() => loadPlugins([pluginDir({ id: 'x', engine: '*' }, { main: 'gone.js' })], {}, opts()))).toMatch(/^plugin 'x': entry .*gone\.js does not exist$/);
    const a = pluginDir({ id: 'same', engine: '*' });
    expect(oneLineError(() => loadPlugins([a, pluginDir({ id: 'same', engine: '*' })], {}, opts()))).toBe("bad config: plugin id 'same' is listed twice in 'plugins'");
  });
});

describe('plugin settings against the declared schema', () => {
  const manifest = {
    id: 'p', engine: '*',
    contributes: {
      configuration: {
        properties: {
          name: { type: 'string' as const },
          port: { type: 'integer' as const, minimum: 1, maximum: 65535, default: 4455 },
          mode: { type: 'string' as const, enum: ['a', 'b'] },
          tags: { type: 'array' as const, items: { type: 'string' as const } },
        },
        required: ['name'],
      },
    },
  };

  it('fills defaults and keeps what is valid', () => {
    expect(validateSettings(manifest, { name: 'n', tags: ['x'] })).toEqual({ name: 'n', port: 4455, tags: ['x'] });
  });

  it('names the setting and the problem in one line', () => {
    expect(oneLineError(() => validateSettings(manifest, { name: 'n', port: 'x' }))).toMatch(/^bad config: pluginSettings\.p: field 'port': .*number/);
    expect(oneLineError(() => validateSettings(manifest, { name: 'n', port: 0 }))).toMatch(/field 'port': .*>=1/);
    expect(oneLineError(() => validateSettings(manifest, { name: 'n', mode: 'c' }))).toBe('bad config: pluginSettings.p: field \'mode\': must be one of "a", "b"');
    expect(oneLineError(() => validateSettings(manifest, {}))).toMatch(/field 'name'/);
    expect(oneLineError(() => validateSettings(manifest, { name: 'n', extra: 1 }))).toMatch(/extra/);
    expect(oneLineError(() => validateSettings(manifest, { name: 'n', tags: [1] }))).toMatch(/field 'tags\.0'/);
  });

  it('refuses settings for a plugin that is not configured', () => {
    expect(oneLineError(() => loadPlugins([GOOD], { other: {} }, opts()))).toBe("bad config: pluginSettings.other: no plugin with that id in 'plugins'");
  });

  it('cocaster start: a bad setting is one line on stderr and exit 2, before the model loads', async () => {
    const dir = tempDir();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ plugins: [GOOD], pluginSettings: { good: { askAfterFrames: 'soon' } }, server: { port: 0 } }));
    const res = await runCli(['start', '--config', config], { COCASTER_CONFIG_DIR: dir });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^cocaster: bad config: pluginSettings\.good: field 'askAfterFrames': .*number/)]);
  });
});

describe('cocaster doctor', () => {
  it('checks the configured plugins: ok with their versions, or FAIL with the reason (exit 1)', async () => {
    const dir = tempDir();
    const config = (plugins: unknown) => {
      const file = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, JSON.stringify({ model: join(ROOT, 'test/fixtures/tiny-random'), server: { port: 0 }, ...(plugins as object) }));
      return file;
    };
    const good = await runCli(['doctor', '--config', config({ plugins: [GOOD, 'obs-text'] })], { COCASTER_CONFIG_DIR: dir });
    expect(good.stdout).toMatch(/^ok {3}plugins: good 1\.0\.0, obs-text 0\.1\.0: manifests and settings ok$/m);
    const bad = await runCli(['doctor', '--config', config({ plugins: [GOOD], pluginSettings: { good: { nope: 1 } } })], { COCASTER_CONFIG_DIR: dir });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(/^FAIL plugins: bad config: pluginSettings\.good: .*nope/m);
  });
});

describe('engine ranges', () => {
  it('follows semver for the forms it accepts', () => {
    expect(satisfies('0.1.0', '*')).toBe(true);
    expect(satisfies('0.1.0', '0.1.0')).toBe(true);
    expect(satisfies('0.1.1', '0.1.0')).toBe(false);
    expect(satisfies('0.1.5', '^0.1.0')).toBe(true);
    expect(satisfies('0.2.0', '^0.1.0')).toBe(false);
    expect(satisfies('1.9.0', '^1.2.3')).toBe(true);
    expect(satisfies('1.2.2', '^1.2.3')).toBe(false);
    expect(satisfies('2.0.0', '^1.2.3')).toBe(false);
    expect(satisfies('1.2.9', '~1.2.3')).toBe(true);
    expect(satisfies('1.3.0', '~1.2.3')).toBe(false);
    expect(satisfies('3.0.0', '>=0.1.0')).toBe(true);
    expect(satisfies('0.0.9', '>=0.1.0')).toBe(false);
  });

  it('the fixtures are written for this cocaster', () => {
    expect(satisfies(COCASTER_VERSION, '^0.1.0')).toBe(true);
  });
});

describe('a plugin host environment', () => {
  it('carries what Node needs and none of the daemon secrets or the config dir', () => {
    const env = pluginEnv({
      PATH: '/bin', HOME: '/home/u', LANG: 'C.UTF-8', TZ: 'UTC',
      OBS_PASSWORD: 'pw', TWITCH_TOKEN: 'oauth:t', COCASTER_CONFIG_DIR: '/cfg', COCASTER_LOG: 'debug', XDG_CONFIG_HOME: '/cfg2',
      NODE_OPTIONS: '--require /evil.js', GITHUB_TOKEN: 'g', AWS_SECRET_ACCESS_KEY: 'a',
    });
    expect(env).toEqual({ PATH: '/bin', HOME: '/home/u', LANG: 'C.UTF-8', TZ: 'UTC' });
  });
});

describe("the README's plugin example", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Writing a plugin'), readme.indexOf('### OBS text output'));
  const blocks = [...section.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((m) => ({ lang: m[1], text: m[2] }));

  it('is the webhook fixture plugin the tests run, code and manifest, within 30 lines', () => {
    const dir = join(ROOT, 'test/fixtures/plugins/webhook');
    expect(blocks.find((b) => b.lang === 'ts')?.text).toBe(readFileSync(join(dir, 'index.ts'), 'utf8'));
    expect(blocks.find((b) => b.lang === 'json')?.text).toBe(readFileSync(join(dir, 'package.json'), 'utf8'));
    expect(readFileSync(join(dir, 'index.ts'), 'utf8').trim().split('\n').length).toBeLessThanOrEqual(30);
    expect(loadPlugins([dir], { webhook: { url: 'http://127.0.0.1:9/' } }, opts())[0]!.settings).toEqual({ url: 'http://127.0.0.1:9/' });
  });
});
