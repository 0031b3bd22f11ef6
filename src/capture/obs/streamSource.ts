import { errorMessage, UserError } from '../../util/errors.js';
import { silentLogger, type Logger } from '../../util/log.js';
import type { DecodeGeometry } from '../ffmpeg.js';
import { FfmpegSource } from '../fileSource.js';
import type { FrameSource, SourceFrame, SourceStats } from '../source.js';
import type { ObsConnection } from './connection.js';

/** The dedicated profile cocaster records from; the user's own profiles are never edited. */
export const STREAM_PROFILE = 'cocaster-udp';

/**
 * OBS's program output as a real video stream: a dedicated profile's Custom FFmpeg
 * recording output sends MPEG-TS to udp://127.0.0.1:PORT, and ffmpeg decodes it.
 * The user's profile is switched back, untouched, on close. OBS ignores a profile
 * switch while any output is active, so this needs OBS idle (use `obs` otherwise).
 */
export class ObsStreamSource implements FrameSource {
  readonly description: string;
  private decoder: FfmpegSource;
  private originalProfile: string | undefined;
  private recording = false;

  constructor(
    private readonly connection: ObsConnection,
    geometry: DecodeGeometry,
    private readonly port: number,
    private readonly logger: Logger = silentLogger,
  ) {
    this.description = `OBS program output (udp://127.0.0.1:${port})`;
    this.decoder = new FfmpegSource(
      `udp://127.0.0.1:${port}?overrun_nonfatal=1&fifo_size=500000`,
      { geometry, realtime: false, live: true, restart: true, inputArgs: ['-timeout', '5000000'], logger },
      this.description,
    );
  }

  stats(): SourceStats {
    return this.decoder.stats();
  }

  async *frames(): AsyncIterable<SourceFrame> {
    try {
      await this.startOutput();
    } catch (err) {
      await this.restore();
      if (err instanceof UserError) throw err;
      throw new UserError(`cannot start OBS's UDP output: ${errorMessage(err)}`);
    }
    yield* this.decoder.frames();
  }

  private async startOutput(): Promise<void> {
    const c = this.connection;
    await c.whenConnected();
    const [stream, record] = await Promise.all([c.call('GetStreamStatus'), c.call('GetRecordStatus')]);
    if (stream.outputActive || record.outputActive) {
      throw new UserError('obs-stream needs OBS idle (it records through its own profile, and OBS cannot switch profiles while streaming or recording); use --source obs instead');
    }
    const { currentProfileName, profiles } = await c.call('GetProfileList');
    this.originalProfile = currentProfileName;
    const video = await c.call('GetVideoSettings');
    if (!profiles.includes(STREAM_PROFILE)) await c.call('CreateProfile', { profileName: STREAM_PROFILE });
    await c.call('SetCurrentProfile', { profileName: STREAM_PROFILE });
    // The picture must stay as the user set it up: copy their canvas into our profile.
    await c.call('SetVideoSettings', video);
    const fps = Math.max(1, Math.round(video.fpsNumerator / video.fpsDenominator));
    const params: Array<[string, string, string]> = [
      ['Output', 'Mode', 'Advanced'],
      ['AdvOut', 'RecType', 'FFmpeg'],
      ['AdvOut', 'FFOutputToFile', 'false'],
      ['AdvOut', 'FFURL', `udp://127.0.0.1:${this.port}?pkt_size=1316`],
      ['AdvOut', 'FFFormat', 'mpegts'],
      ['AdvOut', 'FFFormatMimeType', 'video/MP2T'],
      ['AdvOut', 'FFVEncoderId', '27'],
      ['AdvOut', 'FFVEncoder', 'libx264'],
      ['AdvOut', 'FFVBitrate', '2000'],
      ['AdvOut', 'FFVGOPSize', String(fps)],
      ['AdvOut', 'FFVCustom', 'preset=ultrafast tune=zerolatency'],
      ['AdvOut', 'FFAEncoderId', '86018'],
      ['AdvOut', 'FFAEncoder', 'aac'],
      ['AdvOut', 'FFABitrate', '128'],
      ['AdvOut', 'FFAudioMixes', '1'],
      ['AdvOut', 'FFRescale', 'false'],
    ];
    for (const [parameterCategory, parameterName, parameterValue] of params) {
      await c.call('SetProfileParameter', { parameterCategory, parameterName, parameterValue });
    }
    // OBS reads output settings when a profile is loaded: load ours again.
    await c.call('SetCurrentProfile', { profileName: currentProfileName });
    await c.call('SetCurrentProfile', { profileName: STREAM_PROFILE });
    await c.call('StartRecord');
    this.recording = true;
    this.logger.info(`OBS records program output to udp://127.0.0.1:${this.port} (profile ${STREAM_PROFILE}; yours, ${currentProfileName}, is restored on exit)`);
  }

  async close(): Promise<void> {
    await this.decoder.close();
    await this.restore();
  }

  /** Stops our recording and switches back to the user's profile. */
  private async restore(): Promise<void> {
    const c = this.connection;
    if (!c.isConnected) return;
    try {
      if (this.recording) await c.call('StopRecord');
      this.recording = false;
      if (this.originalProfile) {
        // A switch during the output's shutdown is silently ignored: retry until it sticks.
        for (let i = 0; i < 40; i++) {
          await c.call('SetCurrentProfile', { profileName: this.originalProfile }).catch(() => undefined);
          if ((await c.call('GetProfileList')).currentProfileName === this.originalProfile) break;
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    } catch (err) {
      this.logger.warn(`could not restore the OBS profile: ${errorMessage(err)}`);
    }
  }
}
