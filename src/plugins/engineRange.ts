/** The manifest's `engine` range: `*`, `1.2.3`, `^1.2.3`, `~1.2.3` or `>=1.2.3` (a
 * semver subset, enough to say "built for this cocaster"). */
const VERSION = /^(\d+)\.(\d+)\.(\d+)$/;
export const ENGINE_RANGE = /^(\*|[\^~]?\d+\.\d+\.\d+|>=\d+\.\d+\.\d+)$/;

function parse(v: string): [number, number, number] {
  const m = VERSION.exec(v);
  if (!m) throw new Error(`not a version: ${v}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

const compare = (a: number[], b: number[]): number => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;

export function satisfies(version: string, range: string): boolean {
  if (range === '*') return true;
  const v = parse(version);
  const op = /^(\^|~|>=)?/.exec(range)![0];
  const r = parse(range.slice(op.length));
  if (op === '') return compare(v, r) === 0;
  if (compare(v, r) < 0) return false;
  if (op === '>=') return true;
  if (op === '~') return v[0] === r[0] && v[1] === r[1];
  // ^: the same major; below 1.0.0, the same minor (semver's caret rule).
  return r[0] > 0 ? v[0] === r[0] : v[0] === 0 && v[1] === r[1];
}
