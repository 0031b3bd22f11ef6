/**
 * A real OBS Studio (Debian's 29.x) started headless under Xvfb for tests, with
 * obs-websocket on a loopback port with a password, playing a known video (an
 * ffmpeg test card with a frame counter, 640x360@15). Everything is stopped by PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll } from 'vitest';
import { ObsConnection, type ObsConnectionOptions } from '../../src/capture/obs/connection.js';
import { tempDir } from '../helpers.js';

export const W = 640;
export const H = 360;
export const FPS = 15;

export function obsInstalled(): boolean {
  return spawnSync('sh', ['-c', 'command -v obs && command -v Xvfb'], { stdio: 'ignore' }).status === 0;
}

/** REQUIRE_OBS=1 (CI) makes a missing OBS a failure instead of a skip. */
export function obsAvailableOrFail(): boolean {
  if (obsInstalled()) return true;
  if (process.env.REQUIRE_OBS === '1') throw new Error('REQUIRE_OBS=1 but obs/Xvfb are not installed (apt-get install obs-studio xvfb)');
  return false;
}

export function freePort(): Promise<number> {
  return new Promise((res) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
  });
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), res(true)));
    s.once('error', () => res(false));
  });
}

function globalIni(port: number, password: string): string {
  return `[General]
FirstRun=true
LastVersion=486539266
EnableAutoUpdates=false
ConfirmOnExit=false

[BasicWindow]
PreviewEnabled=false
SysTrayEnabled=false
SysTrayWhenStarted=false
WarnBeforeStartingStream=false
WarnBeforeStoppingStream=false
WarnBeforeStoppingRecord=false

[Basic]
Profile=Test
ProfileDir=Test
SceneCollection=Test
SceneCollectionFile=Test
ConfigOnNewProfile=false

[OBSWebSocket]
FirstLoad=false
ServerEnabled=true
ServerPort=${port}
AlertsEnabled=false
AuthRequired=true
ServerPassword=${password}
`;
}

function profileIni(recPath: string): string {
  return `[General]
Name=Test

[Video]
BaseCX=${W}
BaseCY=${H}
OutputCX=${W}
OutputCY=${H}
FPSType=1
FPSInt=${FPS}

[Audio]
SampleRate=48000
ChannelSetup=Stereo

[Output]
Mode=Simple

[SimpleOutput]
FilePath=${recPath}
RecFormat=mkv
VBitrate=2500
RecQuality=Stream
RecEncoder=x264
Preset=ultrafast
`;
}

/** Two scenes: "Scene" plays the test video; "BRB" is a flat colour (a pause scene). */
function sceneCollection(video: string): string {
  const item = (name: string, id: number) => ({
    name, id, visible: true, locked: false, pos: { x: 0, y: 0 }, scale: { x: 1, y: 1 }, rot: 0, align: 5,
    bounds_type: 2, bounds: { x: W, y: H }, bounds_align: 0, crop_left: 0, crop_top: 0, crop_right: 0, crop_bottom: 0,
  });
  return JSON.stringify({
    name: 'Test',
    current_scene: 'Scene',
    current_program_scene: 'Scene',
    scene_order: [{ name: 'Scene' }, { name: 'BRB' }],
    current_transition: 'Cut',
    transition_duration: 0,
    transitions: [], groups: [], quick_transitions: [],
    sources: [
      { id: 'scene', versioned_id: 'scene', name: 'Scene', enabled: true, mixers: 0, settings: { custom_size: false, id_counter: 1, items: [item('TestVideo', 1)] } },
      { id: 'scene', versioned_id: 'scene', name: 'BRB', enabled: true, mixers: 0, settings: { custom_size: false, id_counter: 1, items: [item('BrbCard', 1)] } },
      { id: 'ffmpeg_source', versioned_id: 'ffmpeg_source', name: 'TestVideo', enabled: true, mixers: 255, volume: 1, muted: true,
        settings: { is_local_file: true, local_file: video, looping: true, restart_on_activate: false, close_when_inactive: false, hw_decode: false } },
      { id: 'color_source', versioned_id: 'color_source_v3', name: 'BrbCard', enabled: true, mixers: 0, settings: { color: 0xff8000c0, width: W, height: H } },
    ],
  });
}

export class ObsHarness {
  private xvfb: ChildProcess | undefined;
  private obs: ChildProcess | undefined;
  readonly password = `pw-${Math.random().toString(36).slice(2)}`;
  readonly dir = tempDir('cocaster-obs-');
  private display = `:${100 + Math.floor(Math.random() * 800)}`;

  constructor(readonly port: number) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.obs?.pid;
  }

  static async start(): Promise<ObsHarness> {
    const h = new ObsHarness(await freePort());
    await h.prepare();
    await h.startObs();
    return h;
  }

  private async prepare(): Promise<void> {
    const video = join(this.dir, 'test.mp4');
    // A test card with a frame counter, so every frame OBS plays is different.
    const enc = spawnSync('ffmpeg', ['-hide_banner', '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${W}x${H}:rate=${FPS}:duration=20`,
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart', video]);
    if (enc.status !== 0) throw new Error(`ffmpeg could not make the test video: ${enc.stderr}`);
    const conf = join(this.dir, 'home/.config/obs-studio');
    mkdirSync(join(conf, 'basic/profiles/Test'), { recursive: true });
    mkdirSync(join(conf, 'basic/scenes'), { recursive: true });
    mkdirSync(join(this.dir, 'rec'), { recursive: true });
    mkdirSync(join(this.dir, 'xdg'), { recursive: true, mode: 0o700 });
    writeFileSync(join(conf, 'global.ini'), globalIni(this.port, this.password));
    writeFileSync(join(conf, 'basic/profiles/Test/basic.ini'), profileIni(join(this.dir, 'rec')));
    writeFileSync(join(conf, 'basic/scenes/Test.json'), sceneCollection(video));
    while (existsSync(`/tmp/.X11-unix/X${this.display.slice(1)}`)) this.display = `:${100 + Math.floor(Math.random() * 800)}`;
    this.xvfb = spawn('Xvfb', [this.display, '-screen', '0', '1280x720x24', '-nolisten', 'tcp'], { stdio: 'ignore' });
    for (let i = 0; i < 50 && !existsSync(`/tmp/.X11-unix/X${this.display.slice(1)}`); i++) await sleep(100);
  }

  /** Starts (or restarts) OBS and waits for its websocket port. */
  async startObs(): Promise<void> {
    this.obs = spawn('obs', ['--multi', '--disable-missing-files-check', '--collection', 'Test', '--profile', 'Test', '--scene', 'Scene',
      '--websocket_port', String(this.port), '--websocket_password', this.password], {
      env: { ...process.env, HOME: join(this.dir, 'home'), DISPLAY: this.display, XDG_RUNTIME_DIR: join(this.dir, 'xdg'), LIBGL_ALWAYS_SOFTWARE: '1', QT_QPA_PLATFORM: 'xcb' },
      stdio: 'ignore',
    });
    const obs = this.obs;
    for (let i = 0; i < 240; i++) {
      if (await portOpen(this.port)) return;
      if (obs.exitCode !== null) throw new Error(`OBS exited with code ${obs.exitCode} during start-up`);
      await sleep(250);
    }
    throw new Error('timeout waiting for obs-websocket');
  }

  /** SIGKILL, as a crash would. */
  async killObs(): Promise<void> {
    const obs = this.obs;
    if (!obs || obs.exitCode !== null || obs.signalCode !== null) return;
    obs.kill('SIGKILL');
    await new Promise((r) => obs.once('exit', r));
  }

  async stop(): Promise<void> {
    for (const p of [this.obs, this.xvfb]) {
      if (!p || p.exitCode !== null || p.signalCode !== null) continue;
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
      await new Promise((r) => p.once('exit', r));
      clearTimeout(timer);
    }
  }
}

export interface ConnectedObs {
  obs: ObsHarness;
  conn: ObsConnection;
}

/**
 * A real OBS and a client connected to it for one suite: started before the
 * suite's own hooks, stopped after them (vitest runs after-hooks in stack order).
 */
export function useConnectedObs(onStatus?: ObsConnectionOptions['onStatus']): ConnectedObs {
  const live: Partial<ConnectedObs> = {};
  beforeAll(async () => {
    const obs = await ObsHarness.start();
    live.obs = obs;
    live.conn = new ObsConnection({ url: obs.url, password: obs.password, onStatus });
    await live.conn.start();
  }, 60_000);
  afterAll(async () => {
    await live.conn?.close();
    await live.obs?.stop();
  });
  return live as ConnectedObs;
}
