import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Packages tried, in order, when no --model is given: the trained default once
 * it ships, else the random test fixture (which knows nothing). */
export const DEFAULT_MODEL_CANDIDATES = [join(root, 'models/cocaster-tiny'), join(root, 'test/fixtures/tiny-random')];

export function defaultModelDir(): string {
  return DEFAULT_MODEL_CANDIDATES.find((d) => existsSync(join(d, 'model.json'))) ?? DEFAULT_MODEL_CANDIDATES[0]!;
}
