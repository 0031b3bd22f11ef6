/** A download's progress on stderr: bytes, rate, ETA. On a terminal one line is
 * redrawn in place; elsewhere (CI logs, pipes) a line is printed every few seconds. */
export class Progress {
  private name = '';
  private startedAt = 0;
  private startBytes = 0;
  private total: number | undefined;
  private lastShown = -Infinity;

  constructor(
    private readonly write: (text: string) => void,
    private readonly tty: boolean,
    private readonly now: () => number = Date.now,
  ) {}

  begin(name: string, fromBytes: number, total: number | undefined): void {
    this.name = name;
    this.startedAt = this.now();
    this.startBytes = fromBytes;
    this.total = total;
    this.lastShown = -Infinity;
    if (fromBytes > 0) this.write(`${name}: resuming at ${formatBytes(fromBytes)}\n`);
  }

  update(bytes: number): void {
    const now = this.now();
    if (now - this.lastShown < (this.tty ? 100 : 2000)) return;
    this.lastShown = now;
    this.show(bytes, now, false);
  }

  end(bytes: number): void {
    this.show(bytes, this.now(), true);
  }

  private show(bytes: number, now: number, done: boolean): void {
    const line = progressLine(this.name, bytes, this.total, (bytes - this.startBytes) / Math.max(0.001, (now - this.startedAt) / 1000));
    if (this.tty) this.write(`\r\x1b[2K${line}${done ? '\n' : ''}`);
    else this.write(`${line}\n`);
  }
}

/** `decoder.onnx  1.2 MB / 3.4 MB  35%  2.1 MB/s  ETA 1s` */
export function progressLine(name: string, bytes: number, total: number | undefined, bytesPerSec: number): string {
  const parts = [name, total === undefined ? formatBytes(bytes) : `${formatBytes(bytes)} / ${formatBytes(total)}`];
  if (total) parts.push(`${Math.floor((100 * bytes) / total)}%`);
  parts.push(`${formatBytes(bytesPerSec)}/s`);
  if (total && bytesPerSec > 0) parts.push(`ETA ${formatSeconds((total - bytes) / bytesPerSec)}`);
  return parts.join('  ');
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.ceil(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
