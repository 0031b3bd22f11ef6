import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The embedded default package, used when no --model is given. */
export function defaultModelDir(): string {
  return join(root, 'models/cocaster-tiny');
}
