import { OBSWebSocket } from 'obs-websocket-js';
import type { PluginLog } from '../../../plugin-api/index.js';

export interface ObsTextOptions {
  url: string;
  password?: string;
  source: string;
  create: boolean;
  scene?: string;
  font: string;
  size: number;
}

/** Text source kinds by preference: GDI+ on Windows, FreeType 2 elsewhere. */
const TEXT_KINDS = ['text_gdiplus_v3', 'text_gdiplus_v2', 'text_gdiplus', 'text_ft2_source_v2', 'text_ft2_source'];
const RETRY_MAX_MS = 5_000;

/**
 * Keeps one Text source's text equal to the latest caption: connects (and reconnects
 * with backoff), makes sure the source exists, and writes only the newest text, one
 * request at a time, so a slow OBS never builds a queue.
 */
export class ObsText {
  private readonly obs = new OBSWebSocket();
  private ready = false;
  private closed = false;
  private writing = false;
  private wanted: string | undefined;
  private retryMs = 250;
  private retryTimer: ReturnType<typeof setTimeout> | undefined;
  private lastProblem = '';

  constructor(private readonly opts: ObsTextOptions, private readonly log: PluginLog) {
    this.obs.on('ConnectionClosed', () => {
      if (this.ready) this.log.warn(`OBS connection to ${opts.url} closed; reconnecting`);
      this.ready = false;
      this.scheduleConnect();
    });
  }

  start(): void {
    void this.connect();
  }

  set(text: string): void {
    this.wanted = text;
    void this.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.obs.disconnect().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    try {
      await this.obs.connect(this.opts.url, this.opts.password);
      await this.ensureSource();
      this.ready = true;
      this.retryMs = 250;
      this.lastProblem = '';
      this.log.info(`writing captions into OBS text source '${this.opts.source}' at ${this.opts.url}`);
      await this.flush();
    } catch (err) {
      // One line per kind of problem, not one per retry.
      const problem = err instanceof Error ? err.message : String(err);
      if (problem !== this.lastProblem) this.log.error(`OBS at ${this.opts.url}: ${problem}; retrying`);
      this.lastProblem = problem;
      await this.obs.disconnect().catch(() => undefined);
      this.scheduleConnect();
    }
  }

  private scheduleConnect(): void {
    if (this.closed || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }

  private async ensureSource(): Promise<void> {
    const { inputs } = await this.obs.call('GetInputList');
    if (inputs.some((i) => i.inputName === this.opts.source)) return;
    if (!this.opts.create) throw new Error(`no source named '${this.opts.source}' (and create is off)`);
    const { inputKinds } = await this.obs.call('GetInputKindList', { unversioned: false });
    const kind = TEXT_KINDS.find((k) => inputKinds.includes(k));
    if (!kind) throw new Error('this OBS has no Text source (neither GDI+ nor FreeType 2)');
    const sceneName = this.opts.scene ?? (await this.obs.call('GetCurrentProgramScene')).currentProgramSceneName;
    const font = { face: this.opts.font, size: this.opts.size, style: 'Regular', flags: 0 };
    await this.obs.call('CreateInput', { sceneName, inputName: this.opts.source, inputKind: kind, inputSettings: { text: '', font }, sceneItemEnabled: true });
    this.log.info(`created ${kind} source '${this.opts.source}' in scene '${sceneName}'`);
  }

  private async flush(): Promise<void> {
    if (!this.ready || this.writing || this.wanted === undefined) return;
    this.writing = true;
    const text = this.wanted;
    this.wanted = undefined;
    try {
      await this.obs.call('SetInputSettings', { inputName: this.opts.source, inputSettings: { text }, overlay: true });
    } catch (err) {
      this.wanted ??= text; // written again once the connection is back
      this.log.warn(`could not set the caption: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.writing = false;
    }
    if (this.wanted !== undefined) await this.flush();
  }
}
