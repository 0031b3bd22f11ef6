/** `cocaster start`, run by the extension: a child process whose announced URLs
 * (overlay, control panel with the first-start token) are read from its stderr. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Announced {
  base: string;
  overlayUrl: string;
  /** Only at the daemon's first start: later starts print where the token file is. */
  controlToken?: string;
}

export class DaemonProcess {
  private child: ChildProcess | undefined;

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Starts `command` in a shell; resolves once the daemon printed its URLs. */
  start(command: string, cwd: string, onLine: (line: string) => void, timeoutMs = 120_000): Promise<Announced> {
    const posix = process.platform !== 'win32';
    // exec: the shell becomes the daemon, so its exit is the daemon's (not the shell's).
    const child = spawn(posix ? `exec ${command}` : command, { cwd, shell: true, detached: posix, stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    return new Promise<Announced>((resolve, reject) => {
      let overlayUrl: string | undefined;
      const timer = setTimeout(() => reject(new Error(`the daemon printed no URLs within ${timeoutMs / 1000} s`)), timeoutMs);
      createInterface({ input: child.stderr! }).on('line', (line) => {
        onLine(line);
        const overlay = /^overlay: +(\S+)/.exec(line);
        if (overlay) overlayUrl = overlay[1];
        const panel = /^control panel: +(https?:\/\/[^/\s]+)\/(?:#token=(\S+))?/.exec(line);
        if (panel && overlayUrl) {
          clearTimeout(timer);
          resolve({ base: panel[1]!, overlayUrl, controlToken: panel[2] });
        }
      });
      child.on('error', (err) => (clearTimeout(timer), reject(err)));
      child.on('exit', (code) => (clearTimeout(timer), reject(new Error(`the daemon exited (code ${code}) before it was ready`))));
    });
  }

  /** SIGTERM to the daemon's process group (the shell and cocaster), then waits. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    const exited = new Promise((r) => child.once('exit', r));
    if (process.platform === 'win32') child.kill();
    else process.kill(-child.pid!, 'SIGTERM');
    await exited;
    this.child = undefined;
  }
}
