import { createServer } from 'node:net';
import { ffmpegPath } from '../capture/index.js';
import { ObsConnection } from '../capture/obs/connection.js';
import { autoCandidates, bundledProviders, defaultModelDir, readManifest, verifyFiles } from '../engine/index.js';
import { errorMessage, oneLine } from '../util/errors.js';
import { silentLogger } from '../util/log.js';
import { configDir, loadConfig } from '../daemon/config.js';
import { loadConfiguredPlugins } from '../plugins/pluginHost.js';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** A failure that stops `cocaster start` (else only a warning). */
  required: boolean;
}

async function check(name: string, required: boolean, fn: () => Promise<string> | string): Promise<Check> {
  try {
    return { name, ok: true, detail: await fn(), required };
  } catch (err) {
    return { name, ok: false, detail: oneLine(errorMessage(err)), required };
  }
}

function portFree(host: string, port: number): Promise<string> {
  return new Promise((res, rej) => {
    const srv = createServer()
      .once('error', (e: NodeJS.ErrnoException) => rej(new Error(`${host}:${port} is taken (${e.code}); set server.port in the config or stop what uses it`)))
      .listen(port, host, () => srv.close(() => res(`${host}:${port} is free`)));
  });
}

async function obsReachable(url: string, password: string | undefined): Promise<string> {
  const obs = new ObsConnection({ url, password, logger: silentLogger, requestTimeoutMs: 3000 });
  try {
    await obs.start();
    if (!obs.isConnected) throw new Error(`not reachable at ${url}: start OBS and enable Tools → WebSocket Server Settings`);
    return `connected to ${url}, program scene '${obs.programScene}'`;
  } finally {
    await obs.close();
  }
}

/** `cocaster doctor`: what works here and what to fix. Exit 1 when something required fails. */
export async function doctor(configFile: string | undefined, modelOverride: string | undefined): Promise<{ lines: string[]; ok: boolean }> {
  const config = loadConfig(configFile);
  const modelDir = modelOverride ?? config.model ?? defaultModelDir();
  const usesObs = config.source === 'obs' || config.source === 'obs-stream';
  const checks = await Promise.all([
    check('node', true, () => {
      const major = Number(process.versions.node.split('.')[0]);
      if (major < 20) throw new Error(`Node.js ${process.version}: cocaster needs 20 or newer`);
      return process.version;
    }),
    check('ffmpeg', true, () => ffmpegPath()),
    check('model', true, async () => {
      const pkg = readManifest(modelDir);
      await verifyFiles(pkg);
      return `${pkg.manifest.id} (${modelDir}), checksums ok`;
    }),
    check('execution providers', true, () => {
      return `bundled: ${[...bundledProviders()].join(', ')}; auto would try: ${autoCandidates().join(' → ')}`;
    }),
    check('port', true, () => portFree(config.server.host, config.server.port)),
    check('config dir', true, () => configDir()),
    check('OBS', usesObs, () => obsReachable(config.obs.url, config.obs.password ?? process.env.OBS_PASSWORD)),
    check('plugins', true, () => {
      const plugins = loadConfiguredPlugins(config.plugins, config.pluginSettings);
      return plugins.length === 0 ? 'none configured' : `${plugins.map((p) => `${p.manifest.id} ${p.version}`).join(', ')}: manifests and settings ok`;
    }),
  ]);
  const lines = checks.map((c) => `${c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn'} ${c.name}: ${c.detail}`);
  return { lines, ok: checks.every((c) => c.ok || !c.required) };
}
