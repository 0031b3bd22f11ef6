// A stand-in daemon for pluginOrphan.test.ts: runs one plugin under a PluginRunner, feeds
// it frames, and prints its host's pid; the test then kills this process with SIGKILL.
import { forkHost, PluginRunner } from '../../src/plugins/pluginProcess.js';
import { loadPlugins } from '../../src/plugins/manifest.js';
import type { DaemonControl } from '../../src/outputs/plugin.js';
import { silentLogger } from '../../src/util/log.js';

const [plugin] = loadPlugins([process.argv[2]!], {}, { cwd: process.cwd(), cocasterVersion: '0.1.0', builtins: {} });
const control = { status: () => ({}) } as unknown as DaemonControl;
const runner = new PluginRunner(plugin!, control, silentLogger, (p) => {
  const child = forkHost(p);
  process.stdout.write(`host ${child.pid}\n`);
  return child;
});
runner.start();
let t = 0;
setInterval(() => runner.post({ type: 'frame', t: (t += 0.5), pInterval: 0.9, decision: 'silent' }, Date.now()), 100);
