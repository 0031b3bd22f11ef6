/** The messages between the daemon and a plugin host process (Node IPC, JSON). */
import type { BusEvent } from '../protocol/index.js';
import type { SettingValue } from '../plugin-api/index.js';

export const CONTROL_METHODS = ['status', 'ask', 'pause', 'resume', 'setThreshold', 'recentLines'] as const;
export type ControlMethod = (typeof CONTROL_METHODS)[number];

/** Daemon → host. */
export type ToHost =
  | { kind: 'init'; id: string; entry: string; settings: Record<string, SettingValue> }
  | { kind: 'event'; event: BusEvent; at: number }
  | { kind: 'result'; callId: number; ok: true; value: unknown }
  | { kind: 'result'; callId: number; ok: false; error: string }
  | { kind: 'command'; command: string; args: SettingValue[] }
  | { kind: 'shutdown' };

/** Host → daemon. */
export type FromHost =
  | { kind: 'heartbeat' }
  | { kind: 'activated' }
  | { kind: 'activateFailed'; error: string }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { kind: 'call'; callId: number; method: ControlMethod; args: unknown[] };

/** How often a host says it is alive; a host silent for HEARTBEAT_TIMEOUT_MS is hung. */
export const HEARTBEAT_INTERVAL_MS = 250;
