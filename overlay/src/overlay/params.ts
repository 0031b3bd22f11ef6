/** Overlay styling from the browser-source URL, e.g.
 * /overlay/?token=…&position=top&align=left&font=Georgia&size=48&color=ffee00&bg=00000080&maxLines=3&display=5&questions=0 */
export interface OverlayParams {
  token: string;
  position: 'top' | 'middle' | 'bottom';
  align: 'left' | 'center' | 'right';
  font: string;
  size: number;
  color: string;
  background: string;
  accent: string;
  maxLines: number;
  displayMs: number;
  showQuestions: boolean;
}

const pick = <T extends string>(value: string | null, allowed: readonly T[], fallback: T): T =>
  allowed.includes(value as T) ? (value as T) : fallback;

function num(value: string | null, fallback: number, min: number, max: number): number {
  const x = value === null ? NaN : Number(value);
  return Number.isFinite(x) ? Math.min(max, Math.max(min, x)) : fallback;
}

/** A colour as hex (with or without '#', since '#' starts a URL fragment), a CSS
 * name, or rgb()/rgba(). Anything else is ignored: the value lands in a style. */
export function colour(value: string | null, fallback: string): string {
  if (!value) return fallback;
  if (/^#?([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/i.test(value)) return value.startsWith('#') ? value : `#${value}`;
  if (/^[a-z]{3,20}$/i.test(value)) return value;
  if (/^rgba?\(\s*[\d.\s,%]+\)$/i.test(value)) return value;
  return fallback;
}

const font = (value: string | null, fallback: string) => (value && /^[\w\s,'"-]{1,100}$/.test(value) ? value : fallback);

export function parseParams(search: string): OverlayParams {
  const q = new URLSearchParams(search);
  return {
    token: q.get('token') ?? '',
    position: pick(q.get('position'), ['top', 'middle', 'bottom'] as const, 'bottom'),
    align: pick(q.get('align'), ['left', 'center', 'right'] as const, 'center'),
    font: font(q.get('font'), "'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"),
    size: num(q.get('size'), 40, 8, 200),
    color: colour(q.get('color'), '#ffffff'),
    background: colour(q.get('bg'), 'rgba(0, 0, 0, 0.6)'),
    accent: colour(q.get('accent'), '#ffd54a'),
    maxLines: Math.round(num(q.get('maxLines'), 2, 1, 10)),
    displayMs: num(q.get('display'), 8, 0.5, 600) * 1000,
    showQuestions: q.get('questions') !== '0' && q.get('questions') !== 'false',
  };
}
