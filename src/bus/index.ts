export { EventBus, wallClockMs, type BusListener, type Disposable, type SubscribeOptions } from './bus.js';
export type { BusEvent, BusEventOf, BusEventType, DaemonEvent, SourceState } from '../protocol/index.js';
