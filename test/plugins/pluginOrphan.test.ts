import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../daemonHarness.js';
import { ROOT } from '../helpers.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Plugin hosts run in their own process group (Ctrl-C reaches only the daemon), so a
 * daemon that dies hard must not leave them behind, even one whose event loop is blocked. */
describe('plugin hosts outlive no daemon', () => {
  for (const name of ['good', 'spins']) {
    it(`a ${name} host ends within seconds of its daemon being killed`, async () => {
      const parent = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/plugins/orphanParent.ts'), join(ROOT, 'test/fixtures/plugins', name)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      parent.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const host = Number(await until(() => /host (\d+)/.exec(out)?.[1], 'the host pid', 30_000));
      // Past activation (and, for spins, into its endless loop) before the daemon dies.
      await new Promise((r) => setTimeout(r, 4_000));
      expect(alive(host)).toBe(true);
      parent.kill('SIGKILL');
      try {
        await until(() => !alive(host) || undefined, 'the host to end', 10_000);
      } finally {
        if (alive(host)) process.kill(host, 'SIGKILL'); // a failing run leaves no spinning process behind
      }
    }, 60_000);
  }
});
