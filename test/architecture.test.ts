import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: 'utf8' }).filter((f) => /\.(ts|svelte)$/.test(f)).map((f) => join(dir, f));
}

/** Every import specifier of every .ts/.svelte file under `dir`, resolved to a repo path when relative. */
function imports(dir: string): Array<{ file: string; target: string }> {
  return sources(dir).flatMap((file) =>
    [...readFileSync(join(ROOT, file), 'utf8').matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g)].map((m) => {
      const spec = m[1]!;
      return { file, target: spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)) : spec };
    }),
  );
}

const violations = (dir: string, forbidden: RegExp) => imports(dir).filter((i) => forbidden.test(i.target)).map((i) => `${i.file} → ${i.target}`);

// Data flows one way: source → engine → bus → outputs; the daemon composes them and the CLI sits on top.
describe('the import graph follows the pipeline', () => {
  it('outputs import neither the CLI nor the capture', () => {
    expect(violations('src/outputs', /^src\/(cli|capture)\//)).toEqual([]);
  });

  it('the engine and the capture import no daemon, output or CLI code', () => {
    expect(violations('src/engine', /^src\/(daemon|outputs|cli|bus)\//)).toEqual([]);
    expect(violations('src/capture', /^src\/(daemon|outputs|cli|bus|engine)\//)).toEqual([]);
  });

  it('the daemon is no CLI, and nothing but the CLI imports it', () => {
    for (const dir of ['src/engine', 'src/capture', 'src/outputs', 'src/bus', 'src/protocol', 'src/auth', 'src/util', 'src/plugins', 'src/plugin-api', 'src/models']) {
      expect(violations(dir, /^src\/(daemon|cli)\//)).toEqual([]);
    }
  });

  it('the wire types import nothing at all, and the browser build imports only them and svelte', () => {
    expect(imports('src/protocol').filter((i) => !i.target.startsWith('src/protocol/'))).toEqual([]);
    // Browser packages the overlay workspace declares (svelte, the chart library) are fine; Node-side code is not.
    const pkg = JSON.parse(readFileSync(join(ROOT, 'overlay/package.json'), 'utf8')) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    const browserPackages = new Set(Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }));
    const foreign = imports('overlay/src').filter((i) => !/^(overlay\/src\/|src\/protocol\/index\.ts$)/.test(i.target) && !browserPackages.has(i.target.split('/')[0]!));
    expect(foreign).toEqual([]);
  });

  it('the plugin host sits beside the outputs; plugins see only the public API (which sees only the wire types)', () => {
    expect(violations('src/plugins', /^src\/(cli|capture|engine|auth|daemon)\//)).toEqual([]);
    expect(imports('src/plugin-api').filter((i) => !i.target.startsWith('src/protocol/'))).toEqual([]);
    // A plugin's own imports: the public API and npm packages (never our internals).
    const pluginImports = [...imports('test/fixtures/plugins'), ...imports('src/plugins/builtin')];
    const ownFolder = (i: { file: string; target: string }) => i.target.startsWith(dirname(i.file) + '/');
    expect(pluginImports.filter((i) => /^(src|test)\//.test(i.target) && i.target !== 'src/plugin-api/index.js' && !ownFolder(i))).toEqual([]);
    // The host loads plugins by path in their own process, never by import.
    expect(imports('src').filter((i) => i.target.startsWith('src/plugins/builtin/') && !i.file.startsWith('src/plugins/builtin/'))).toEqual([]);
    expect(pluginImports.map((i) => i.target)).toContain('src/plugin-api/index.js');
  });

  it('the VS Code extension imports only its own files, the wire types, vscode, Node and its bundled ws', () => {
    const foreign = imports('plugin/src').filter((i) => !/^(plugin\/src\/|src\/protocol\/index\.js$|vscode$|node:|ws$)/.test(i.target));
    expect(foreign).toEqual([]);
    expect(imports('plugin/src').map((i) => i.target)).toContain('src/protocol/index.js');
  });

  it('production code never reaches into the tests, by import or by path', () => {
    expect(violations('src', /^test\//)).toEqual([]);
    expect(sources('src').filter((f) => /['"`][^'"`]*test\/fixtures/.test(readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });

  it('sees the imports it checks (a broken scan would pass everything)', () => {
    expect(imports('src/daemon').map((i) => i.target)).toContain('src/engine/index.js');
    expect(imports('overlay/src').map((i) => i.target)).toContain('src/protocol/index.ts');
  });
});
