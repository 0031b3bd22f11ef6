import { createWriteStream, openSync } from 'node:fs';
import { isEngineEvent } from '../../protocol/index.js';
import { UserError } from '../../util/errors.js';
import type { OutputPlugin } from '../plugin.js';

/** `--jsonl FILE`: one JSON object per engine event, in order. The file is opened at
 * activation, so a path that cannot be written fails the start with one line. */
export function jsonlOutput(path: string): OutputPlugin {
  return {
    id: 'jsonl',
    activate: ({ bus }) => {
      let fd: number;
      try {
        fd = openSync(path, 'w');
      } catch (err) {
        throw new UserError(`cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
      const stream = createWriteStream('', { fd });
      let failure: Error | undefined;
      stream.on('error', (err) => (failure = err));
      return [
        bus.subscribe((event) => {
          if (isEngineEvent(event)) stream.write(JSON.stringify(event) + '\n');
        }),
        {
          // A late write error (disk full) is reported by the shutdown's dispose.
          dispose: async () => {
            await new Promise<void>((res) => stream.end(res));
            if (failure) throw failure;
          },
        },
      ];
    },
  };
}
