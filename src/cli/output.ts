import { createWriteStream, type WriteStream } from 'node:fs';
import type { EngineEvent } from '../engine/index.js';

const stamp = (t: number) => `[${t.toFixed(1)}s]`;

/** The console view: one line per spoken line or question. */
export function consoleLine(event: EngineEvent): string | undefined {
  switch (event.type) {
    case 'question':
      return `${stamp(event.t)} User${event.asker ? ` (${event.asker})` : ''}: ${event.text}`;
    case 'say':
      return `${stamp(event.t)} Assistant: ${event.text}`;
    case 'contextReset':
      return `${stamp(event.t)} (context full: stream restarted, ${event.droppedTokens} tokens dropped)`;
    default:
      return undefined;
  }
}

/** One JSON object per engine event. */
export class JsonlWriter {
  private readonly stream: WriteStream;
  private failure: Error | undefined;

  constructor(path: string) {
    this.stream = createWriteStream(path, { flags: 'w' });
    this.stream.on('error', (err) => (this.failure = err));
  }

  write(event: EngineEvent): void {
    this.stream.write(JSON.stringify(event) + '\n');
  }

  async close(): Promise<void> {
    await new Promise<void>((res) => this.stream.end(res));
    if (this.failure) throw this.failure;
  }
}
