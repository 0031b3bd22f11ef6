import { ObsConnection } from '../capture/obs/connection.js';
import { UserError } from '../util/errors.js';
import { configDir, loadConfig } from '../daemon/config.js';
import { loadOrCreateTokens } from '../auth/tokens.js';

export const OVERLAY_SOURCE = 'cocaster overlay';

/** The control panel as an OBS custom browser dock. The URL carries the control token
 * in its fragment (never sent to the server, kept by the panel): whoever can read this
 * terminal could read tokens.json too. */
export function dockInstructions(serverHost: string, port: number, controlToken: string): string {
  const host = serverHost.includes(':') ? `[${serverHost}]` : serverHost;
  return [
    'control panel dock: in OBS, View → Docks → Custom Browser Docks…, Dock Name "cocaster", URL:',
    `  http://${host}:${port}/#token=${controlToken}`,
  ].join('\n');
}

/**
 * `cocaster obs setup`: creates (or updates) a Browser Source "cocaster overlay"
 * showing the overlay URL, sized to the OBS canvas, in the current program scene.
 */
export async function obsSetup(configFile: string | undefined): Promise<string> {
  const config = loadConfig(configFile);
  const { tokens } = loadOrCreateTokens(configDir());
  const host = config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host;
  const url = `http://${host}:${config.server.port}/overlay/?token=${tokens.overlay}`;
  const dock = dockInstructions(config.server.host, config.server.port, tokens.control);
  const password = config.obs.password ?? process.env.OBS_PASSWORD;
  const obs = new ObsConnection({ url: config.obs.url, password });
  await obs.start();
  try {
    if (!obs.isConnected) throw new UserError(`OBS is not reachable at ${config.obs.url} (is it running with Tools → WebSocket Server Settings enabled?)`);
    const { inputKinds } = await obs.call('GetInputKindList', { unversioned: true });
    if (!inputKinds.includes('browser_source')) {
      throw new UserError(`this OBS has no Browser Source (the obs-browser plugin is missing); add one by hand named '${OVERLAY_SOURCE}', 1920x1080, with the overlay URL printed by 'cocaster start'`);
    }
    const video = await obs.call('GetVideoSettings');
    const settings = { url, width: video.baseWidth, height: video.baseHeight, css: '', shutdown: false, reroute_audio: false };
    const scene = obs.programScene!;
    const { inputs } = await obs.call('GetInputList', { inputKind: 'browser_source' });
    if (inputs.some((i) => i.inputName === OVERLAY_SOURCE)) {
      await obs.call('SetInputSettings', { inputName: OVERLAY_SOURCE, inputSettings: settings, overlay: true });
      const inScene = await obs.call('GetSceneItemId', { sceneName: scene, sourceName: OVERLAY_SOURCE }).then(() => true, () => false);
      if (!inScene) await obs.call('CreateSceneItem', { sceneName: scene, sourceName: OVERLAY_SOURCE, sceneItemEnabled: true });
      return `updated Browser Source '${OVERLAY_SOURCE}' (${settings.width}x${settings.height}) in scene '${scene}'\n${dock}`;
    }
    await obs.call('CreateInput', { sceneName: scene, inputName: OVERLAY_SOURCE, inputKind: 'browser_source', inputSettings: settings, sceneItemEnabled: true });
    return `created Browser Source '${OVERLAY_SOURCE}' (${settings.width}x${settings.height}) in scene '${scene}'\n${dock}`;
  } finally {
    await obs.close();
  }
}
