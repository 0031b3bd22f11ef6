import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Module from 'node:module';
import { join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../plugin/src/controller.js';
import { ROOT, tempDir } from '../helpers.js';
import { standIn } from './standIn.js';

/** The files of a zip archive (the .vsix), from its central directory. */
function unzip(zip: Buffer): Map<string, Buffer> {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(eocd + 10);
  let p = zip.readUInt32LE(eocd + 16);
  const files = new Map<string, Buffer>();
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(p + 10);
    const size = zip.readUInt32LE(p + 20);
    const nameLen = zip.readUInt16LE(p + 28);
    const skip = nameLen + zip.readUInt16LE(p + 30) + zip.readUInt16LE(p + 32);
    const name = zip.toString('utf8', p + 46, p + 46 + nameLen);
    const local = zip.readUInt32LE(p + 42);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    files.set(name, method === 8 ? inflateRawSync(data) : Buffer.from(data));
    p += 46 + skip;
  }
  return files;
}

describe('the VS Code extension package', () => {
  it('vsce packages a .vsix offline, with the bundle, the manifest and the readme only', () => {
    const res = spawnSync('npm', ['run', 'package', '-w', 'plugin'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, npm_config_offline: 'true' } });
    expect(res.status, res.stdout + res.stderr).toBe(0);
    const files = unzip(readFileSync(join(ROOT, 'plugin/dist/cocaster-vscode.vsix')));
    expect([...files.keys()].filter((f) => f.startsWith('extension/')).sort()).toEqual(['extension/dist/extension.js', 'extension/package.json', 'extension/readme.md']);
    const manifest = JSON.parse(files.get('extension/package.json')!.toString('utf8')) as { contributes: { commands: Array<{ command: string }> } };
    expect(manifest.contributes.commands.map((c) => c.command).sort()).toEqual([...COMMANDS].sort());
    expect(files.get('extension.vsixmanifest')!.toString('utf8')).toContain('Microsoft.VisualStudio.Code');
  }, 120_000);

  it('the packaged bundle activates against the vscode module and registers every command', () => {
    const bundle = join(tempDir(), 'extension.cjs');
    writeFileSync(bundle, unzip(readFileSync(join(ROOT, 'plugin/dist/cocaster-vscode.vsix'))).get('extension/dist/extension.js')!);
    const vs = standIn({ 'cocaster.daemonUrl': 'http://127.0.0.1:9' });
    // The bundle requires 'vscode' at run time, as VS Code's extension host provides it.
    const loader = Module as unknown as { _load(request: string, parent: unknown, isMain: boolean): unknown };
    const load = loader._load;
    loader._load = function (request, parent, isMain) {
      return request === 'vscode' ? vs.api : load.call(this, request, parent, isMain);
    };
    try {
      const ext = createRequire(import.meta.url)(bundle) as { activate(ctx: unknown): void; deactivate(): void };
      ext.activate(vs.context);
      expect([...vs.commands.keys()].sort()).toEqual([...COMMANDS].sort());
      expect(vs.statusItems).toHaveLength(1);
    } finally {
      loader._load = load;
      for (const d of vs.context.subscriptions) d.dispose();
    }
  });
});
