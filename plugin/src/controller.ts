/**
 * The extension itself, written against VscodeApi (so tests run it with a stand-in):
 * a status bar item, the commands, the live transcript view, and a poll of the
 * daemon. The control token lives only in SecretStorage.
 */
import { randomBytes } from 'node:crypto';
import { homedir } from 'node:os';
import type * as vscode from 'vscode';
import type { DaemonStatus, ServerMessage } from '../../src/protocol/index.js';
import { DaemonClient, type CaptionFormat } from './client.js';
import { DaemonProcess } from './daemonProcess.js';
import { LiveFeed } from './liveFeed.js';
import { LiveTranscript, parseThreshold, redact, statusBarView } from './viewState.js';
import type { ExtensionContextLike, VscodeApi } from './vscodeApi.js';
import { transcriptHtml } from './webview.js';

export const TOKEN_KEY = 'cocaster.controlToken';
export const OVERLAY_KEY = 'cocaster.overlayUrl';
export const VIEW_ID = 'cocaster.transcript';
export const COMMANDS = [
  'cocaster.start', 'cocaster.stop', 'cocaster.pause', 'cocaster.resume', 'cocaster.ask', 'cocaster.setThreshold',
  'cocaster.copyOverlayUrl', 'cocaster.exportCaptions', 'cocaster.openPanel', 'cocaster.setToken', 'cocaster.runPluginCommand',
] as const;
export type CommandId = (typeof COMMANDS)[number];

export class Cocaster {
  readonly statusItem: vscode.StatusBarItem;
  readonly log: vscode.OutputChannel;
  private readonly daemon = new DaemonProcess();
  /** The URL the daemon announced when this extension started it. */
  private announcedBase: string | undefined;
  private view: vscode.WebviewView | undefined;
  private readonly transcript = new LiveTranscript();
  /** Events as they happen; the poll only keeps the status bar honest while it is away. */
  readonly feed = new LiveFeed(
    async () => ({ base: this.client.base, token: await this.context.secrets.get(TOKEN_KEY) }),
    (message) => this.onLive(message),
    () => void this.loadTranscript(),
  );
  status: DaemonStatus | undefined;

  constructor(private readonly vscode: VscodeApi, private readonly context: ExtensionContextLike) {
    this.statusItem = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
    this.statusItem.command = 'cocaster.openPanel';
    this.statusItem.show();
    this.log = vscode.window.createOutputChannel('cocaster');
    context.subscriptions.push(this.statusItem, this.log);
  }

  get client(): DaemonClient {
    const configured = this.vscode.workspace.getConfiguration('cocaster').get<string>('daemonUrl', 'http://127.0.0.1:4480');
    return new DaemonClient((this.announcedBase ?? configured).replace(/\/+$/, ''), async () => this.context.secrets.get(TOKEN_KEY));
  }

  /** Polls the status; the status bar says offline when the daemon is not there. */
  async refresh(): Promise<void> {
    try {
      this.status = await this.client.status();
      this.showStatus();
    } catch (err) {
      this.status = undefined;
      this.showStatus(err instanceof Error ? err.message : String(err));
    }
  }

  private onLive(message: ServerMessage): void {
    if (message.kind === 'status') {
      this.status = message.status;
      this.showStatus();
    } else if (this.transcript.apply(message.event)) this.postLines();
  }

  /** The recorded lines, when the feed (re)connects or the view opens. */
  private async loadTranscript(): Promise<void> {
    try {
      this.transcript.reset(await this.client.transcript());
      this.postLines();
    } catch {
      // offline: the status bar says so
    }
  }

  private postLines(): void {
    void this.view?.webview.postMessage({ type: 'lines', items: this.transcript.view() });
  }

  private showStatus(problem?: string): void {
    const view = statusBarView(this.status, problem);
    this.statusItem.text = view.text;
    this.statusItem.tooltip = view.tooltip;
    void this.view?.webview.postMessage({ type: 'state', text: view.text.replace(/^\$\([\w-]+\) /, '') });
  }

  readonly commands: Record<CommandId, () => Promise<void>> = {
    'cocaster.start': () => this.start(),
    'cocaster.stop': () => this.stop(),
    'cocaster.pause': async () => void (this.status = await this.client.pause()),
    'cocaster.resume': async () => void (this.status = await this.client.resume()),
    'cocaster.ask': () => this.ask(),
    'cocaster.setThreshold': () => this.setThreshold(),
    'cocaster.copyOverlayUrl': () => this.copyOverlayUrl(),
    'cocaster.exportCaptions': () => this.exportCaptions(),
    'cocaster.openPanel': () => this.openPanel(),
    'cocaster.setToken': () => this.setToken(),
    'cocaster.runPluginCommand': () => this.runPluginCommand(),
  };

  private async start(): Promise<void> {
    if (this.daemon.running) return void this.vscode.window.showInformationMessage('cocaster is already running');
    const config = this.vscode.workspace.getConfiguration('cocaster');
    const command = config.get<string>('startCommand', 'npx cocaster start');
    const cwd = this.vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? homedir();
    this.log.appendLine(`starting: ${redact(command)}`);
    const announced = await this.daemon.start(command, cwd, (line) => this.log.appendLine(redact(line)));
    this.announcedBase = announced.base;
    // The first start prints the control token once: it goes straight to SecretStorage.
    if (announced.controlToken) await this.context.secrets.store(TOKEN_KEY, announced.controlToken);
    await this.context.secrets.store(OVERLAY_KEY, announced.overlayUrl);
    this.log.appendLine(`daemon ready at ${announced.base}`);
    this.feed.restart();
    await this.refresh();
  }

  private async stop(): Promise<void> {
    if (!this.daemon.running) return void this.vscode.window.showInformationMessage('cocaster was not started from VS Code; stop it where it runs');
    await this.daemon.stop();
    this.announcedBase = undefined;
    this.log.appendLine('daemon stopped');
    await this.refresh();
  }

  private async ask(): Promise<void> {
    const text = await this.vscode.window.showInputBox({ prompt: 'Ask cocaster (answered at the next frame)', validateInput: (v) => (v.trim() ? undefined : 'type a question') });
    if (!text?.trim()) return;
    const q = await this.client.ask(text.trim());
    this.log.appendLine(`asked ${q.id} at ${q.t.toFixed(1)} s`);
  }

  private async setThreshold(): Promise<void> {
    const current = this.status?.threshold ?? (await this.client.status()).threshold;
    const input = await this.vscode.window.showInputBox({
      prompt: 'Talkativeness: 0 (quiet) to 1 (talkative)', value: String(current),
      validateInput: (v) => (typeof parseThreshold(v) === 'string' ? (parseThreshold(v) as string) : undefined),
    });
    if (input === undefined) return;
    const x = parseThreshold(input);
    if (typeof x === 'string') throw new Error(`talkativeness: ${x}`);
    this.status = await this.client.setThreshold(x);
  }

  private async copyOverlayUrl(): Promise<void> {
    let url = await this.context.secrets.get(OVERLAY_KEY);
    if (!url) {
      url = await this.vscode.window.showInputBox({ prompt: 'Paste the overlay URL that "cocaster start" printed', password: true, ignoreFocusOut: true });
      if (!url) return;
      await this.context.secrets.store(OVERLAY_KEY, url);
    }
    await this.vscode.env.clipboard.writeText(url);
    void this.vscode.window.showInformationMessage('Overlay URL copied: add it to OBS as a Browser Source (1920x1080)');
  }

  private async exportCaptions(): Promise<void> {
    const sessions = await this.client.sessions();
    if (sessions.length === 0) return void this.vscode.window.showInformationMessage('No recorded sessions yet');
    const picked = await this.vscode.window.showQuickPick(
      sessions.map((s) => ({ label: `Session ${s.id}${s.live ? ' (live)' : ''}`, description: `${new Date(s.startedAt).toLocaleString()} · ${s.lines} lines · ${s.source}`, id: s.id })),
      { placeHolder: 'Which session?' },
    );
    if (!picked) return;
    const format = await this.vscode.window.showQuickPick([{ label: 'SRT', format: 'srt' as CaptionFormat }, { label: 'VTT', format: 'vtt' as CaptionFormat }], { placeHolder: 'Caption format' });
    if (!format) return;
    const folder = this.vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? homedir();
    const target = await this.vscode.window.showSaveDialog({
      defaultUri: this.vscode.Uri.file(`${folder}/cocaster-session-${picked.id}.${format.format}`), filters: { Captions: [format.format] },
    });
    if (!target) return;
    const text = await this.client.captions(picked.id, format.format);
    await this.vscode.workspace.fs.writeFile(target, new TextEncoder().encode(text));
    this.log.appendLine(`captions of session ${picked.id} written to ${target.fsPath}`);
  }

  private async openPanel(): Promise<void> {
    const token = await this.context.secrets.get(TOKEN_KEY);
    // The token rides in the fragment, which the browser never sends to a server.
    await this.vscode.env.openExternal(this.vscode.Uri.parse(`${this.client.base}/${token ? `#token=${token}` : ''}`));
  }

  /** A command a daemon plugin contributes (its manifest's contributes.commands). */
  private async runPluginCommand(): Promise<void> {
    const items = (await this.client.plugins()).flatMap((p) =>
      p.commands.map((c) => ({ label: c.title, description: `${p.id}${p.state === 'active' ? '' : ` (${p.state})`}`, plugin: p.id, command: c.id })),
    );
    if (items.length === 0) return void this.vscode.window.showInformationMessage('No daemon plugin contributes a command');
    const picked = await this.vscode.window.showQuickPick(items, { placeHolder: 'Run a plugin command' });
    if (!picked) return;
    await this.client.runPluginCommand(picked.plugin, picked.command);
    this.log.appendLine(`ran ${picked.plugin}: ${picked.command}`);
  }

  private async setToken(): Promise<void> {
    const token = await this.vscode.window.showInputBox({ prompt: 'cocaster control token (from tokens.json, or the #token= of the control panel URL)', password: true, ignoreFocusOut: true });
    if (!token?.trim()) return;
    await this.context.secrets.store(TOKEN_KEY, token.trim());
    this.feed.restart();
    await this.refresh();
  }

  /** The live transcript view. */
  readonly viewProvider: vscode.WebviewViewProvider = {
    resolveWebviewView: (view) => {
      this.view = view;
      view.webview.options = { enableScripts: true, localResourceRoots: [] };
      view.webview.html = transcriptHtml(randomBytes(16).toString('base64'), view.webview.cspSource);
      // The page says 'ready' once loaded: it gets the lines so far, then the live ones.
      view.webview.onDidReceiveMessage(() => void this.loadTranscript());
      view.onDidDispose(() => (this.view = undefined));
    },
  };

  async dispose(): Promise<void> {
    this.feed.close();
    await this.daemon.stop();
  }
}

/** Registers everything; every command reports its failure as one message, never throws. */
export function activateWith(vscodeApi: VscodeApi, context: ExtensionContextLike, pollMs = 2_000): Cocaster {
  const cocaster = new Cocaster(vscodeApi, context);
  for (const id of COMMANDS) {
    context.subscriptions.push(
      vscodeApi.commands.registerCommand(id, async () => {
        try {
          await cocaster.commands[id]();
          if (id !== 'cocaster.start' && id !== 'cocaster.stop') await cocaster.refresh();
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err);
          cocaster.log.appendLine(`${id}: ${redact(message)}`);
          void vscodeApi.window.showErrorMessage(`cocaster: ${redact(message)}`);
        }
      }),
    );
  }
  context.subscriptions.push(vscodeApi.window.registerWebviewViewProvider(VIEW_ID, cocaster.viewProvider));
  const timer = setInterval(() => void cocaster.refresh(), pollMs);
  context.subscriptions.push({ dispose: () => (clearInterval(timer), void cocaster.dispose()) });
  cocaster.feed.start();
  void cocaster.refresh();
  return cocaster;
}
