import { OBSWebSocket } from 'obs-websocket-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemonProcess, testConfig, until, type DaemonProcess } from '../daemonHarness.js';
import { ObsHarness, obsAvailableOrFail } from './obsHarness.js';

const hasObs = obsAvailableOrFail();
const SOURCE = 'cocaster caption';

/** The built-in obs-text plugin against a real headless OBS (Debian's: FreeType 2 text, no browser source). */
describe.skipIf(!hasObs)('the obs-text plugin writes the live caption into a native OBS Text source', () => {
  let obs: ObsHarness;
  let client: OBSWebSocket;
  let daemon: DaemonProcess | undefined;
  let before: string;

  const screenshot = async (sourceName: string) =>
    (await client.call('GetSourceScreenshot', { sourceName, imageFormat: 'png', imageWidth: 320, imageHeight: 180 })).imageData;
  const obsText = async () => (await client.call('GetInputSettings', { inputName: SOURCE })).inputSettings.text as string | undefined;
  const api = (path: string, method = 'GET') =>
    fetch(`${daemon!.base}/api${path}`, { method, headers: { Authorization: `Bearer ${daemon!.tokens.control}` } }).then((r) => r.json());

  beforeAll(async () => {
    obs = await ObsHarness.start();
    client = new OBSWebSocket();
    await client.connect(obs.url, obs.password);
    // BRB is a flat colour: any change in its picture is the caption.
    await client.call('SetCurrentProgramScene', { sceneName: 'BRB' });
    before = await screenshot('BRB');
    // A flat scene screenshots the same twice, so a difference later is the caption.
    expect(await screenshot('BRB')).toBe(before);
    daemon = await startDaemonProcess(
      testConfig({ outputs: ['server'], plugins: ['obs-text'], pluginSettings: { 'obs-text': { url: obs.url, password: obs.password, clearAfterS: 0, size: 64 } } }),
    );
  }, 120_000);

  afterAll(async () => {
    expect(await daemon?.stop()).toBe(0);
    await client?.disconnect();
    await obs?.stop();
  }, 30_000);

  it('creates a FreeType 2 text source in the program scene', async () => {
    await until(async () => (await client.call('GetInputList')).inputs.find((i) => i.inputName === SOURCE), 'the text source', 30_000);
    const { inputs } = await client.call('GetInputList');
    expect(inputs.find((i) => i.inputName === SOURCE)?.inputKind).toBe('text_ft2_source_v2');
    const { sceneItems } = await client.call('GetSceneItemList', { sceneName: 'BRB' });
    expect(sceneItems.map((i) => i.sourceName)).toContain(SOURCE);
    await until(() => /plugin obs-text: created text_ft2_source_v2 source 'cocaster caption' in scene 'BRB'/.test(daemon!.stderr()) || undefined, 'the log line', 10_000);
  }, 60_000);

  it('the source text equals the live caption (a line the transcript recorded), and the scene shows it', async () => {
    await until(async () => ((await obsText()) ?? '').length > 0 || undefined, 'a caption in OBS', 30_000);
    // Wait for a moment where the text equals a whole committed line (deltas may show a part of one in between).
    const shown = await until(async () => {
      const text = await obsText();
      const fresh = ((await api('/transcript')) as { lines: Array<{ role: string; text: string }> }).lines.filter((l) => l.role === 'assistant').map((l) => l.text.trim());
      return text && fresh.includes(text) ? text : undefined;
    }, 'the OBS text to equal a spoken line', 30_000);
    expect(shown.length).toBeGreaterThan(0);
    // OBS draws the new text on its next rendered frame: poll rather than race it.
    const after = await until(async () => {
      const shot = await screenshot('BRB');
      return shot !== before ? shot : undefined;
    }, 'the scene to show the caption', 15_000);
    expect(after).not.toBe(before);
    expect(await screenshot(SOURCE)).not.toBe(await screenshot('BrbCard'));
  }, 60_000);

  it('hands the plugin the OBS password only through its own settings, never logs it', () => {
    expect(daemon!.stderr()).not.toContain(obs.password);
  });
});
