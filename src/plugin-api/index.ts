/**
 * The public plugin API: the one module a cocaster plugin imports (types only, so a
 * plugin needs no runtime dependency on cocaster). A plugin runs in a plugin host
 * process of its own; everything it gets from the daemon arrives through the
 * `PluginContext` below: the bus's events, its own validated settings, a logger and
 * a narrow control API. It never sees the engine, the config, tokens or passwords.
 *
 * A plugin module's default export (or its named `activate`) is a `CocasterPlugin`:
 *
 *   import type { CocasterPlugin } from 'cocaster/plugin-api';
 *   const plugin: CocasterPlugin = {
 *     activate(ctx) {
 *       return [ctx.on('say', (e) => ctx.log.info(e.text))];
 *     },
 *   };
 *   export default plugin;
 */
import type { AcceptedQuestion, BusEvent, BusEventOf, BusEventType, DaemonStatus, TranscriptLine } from '../protocol/index.js';

export type { AcceptedQuestion, BusEvent, BusEventOf, BusEventType, DaemonStatus, TranscriptLine } from '../protocol/index.js';
export type { EngineEvent, DaemonEvent, SpeechTrigger, FrameDecision, SourceState } from '../protocol/index.js';

/** Something to undo when the plugin is deactivated (VS Code's Disposable). */
export interface Disposable {
  dispose(): void | Promise<void>;
}

/** `at`: wall-clock ms when the daemon published the event. */
export type PluginListener<E extends BusEvent = BusEvent> = (event: E, at: number) => void;

/** What a plugin may ask of the daemon. Every call goes over IPC and resolves with
 * the daemon's answer; a rejected call rejects with a one-line message. */
export interface PluginControl {
  status(): Promise<DaemonStatus>;
  /** Queues a user turn; the model answers it at its next frame. */
  ask(text: string, asker?: string): Promise<AcceptedQuestion>;
  pause(): Promise<DaemonStatus>;
  resume(): Promise<DaemonStatus>;
  /** Talkativeness, 0..1 (higher: more talk). */
  setThreshold(threshold: number): Promise<DaemonStatus>;
  /** The last lines of this session's transcript. */
  recentLines(limit: number): Promise<TranscriptLine[]>;
}

/** Lines go to the daemon's log, prefixed with the plugin's id. */
export interface PluginLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Plain JSON, as the plugin's settings arrive: validated against the manifest's
 * `contributes.configuration`, with its defaults filled in. */
export type SettingValue = string | number | boolean | null | SettingValue[] | { [key: string]: SettingValue };

export interface PluginContext {
  /** The manifest's id. */
  readonly id: string;
  readonly settings: Readonly<Record<string, SettingValue>>;
  readonly log: PluginLog;
  readonly control: PluginControl;
  /** Events of one type, typed. */
  on<K extends BusEventType>(type: K, listener: PluginListener<BusEventOf<K>>): Disposable;
  /** Every event. */
  onAny(listener: PluginListener): Disposable;
  /** Handles a command the manifest contributes (`contributes.commands`). */
  registerCommand(command: string, handler: (...args: SettingValue[]) => void | Promise<void>): Disposable;
}

/** What a plugin module exports (default export, or named `activate`/`deactivate`). */
export interface CocasterPlugin {
  /** Registers listeners and returns what to dispose at shutdown (in reverse order). */
  activate(ctx: PluginContext): Disposable[] | Promise<Disposable[]>;
  deactivate?(): void | Promise<void>;
}

/** One setting in `contributes.configuration.properties`: a small JSON-schema subset. */
export interface SettingSchema {
  type: 'string' | 'number' | 'integer' | 'boolean' | 'array';
  description?: string;
  default?: SettingValue;
  enum?: ReadonlyArray<string | number>;
  minimum?: number;
  maximum?: number;
  /** Arrays: the element type. */
  items?: { type: 'string' | 'number' | 'integer' | 'boolean' };
}

/** The `cocaster` key of a plugin's package.json. */
export interface PluginManifest {
  /** Lower-case letters, digits and dashes; the key of its `pluginSettings`. */
  id: string;
  /** The cocaster versions it works with: `*`, `1.2.3`, `^1.2.3`, `~1.2.3` or `>=1.2.3`. */
  engine: string;
  contributes?: {
    outputs?: Array<{ id: string; title: string }>;
    configuration?: { properties: Record<string, SettingSchema>; required?: string[] };
    commands?: Array<{ id: string; title: string }>;
  };
}
