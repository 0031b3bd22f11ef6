/**
 * A stand-in for the parts of the `vscode` module the extension uses (VscodeApi),
 * built from @types/vscode's own interfaces so it cannot drift from them: what the
 * extension shows, logs, stores and opens is recorded; what a user would type or pick
 * comes from queues the test fills.
 */
import { writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type * as vscode from 'vscode';
import type { ExtensionContextLike, VscodeApi } from '../../plugin/src/vscodeApi.js';

type Listener<T> = (e: T) => unknown;

function emitter<T>(): { event: vscode.Event<T>; fire(e: T): void } {
  const listeners = new Set<Listener<T>>();
  return {
    event: (listener) => {
      listeners.add(listener);
      return { dispose: () => void listeners.delete(listener) };
    },
    fire: (e) => listeners.forEach((l) => l(e)),
  };
}

export class StandInUri implements vscode.Uri {
  constructor(readonly scheme: string, readonly authority: string, readonly path: string, readonly query: string, readonly fragment: string) {}
  static parse(value: string): StandInUri {
    const u = new URL(value);
    return new StandInUri(u.protocol.slice(0, -1), u.host, u.pathname, u.search.slice(1), u.hash.slice(1));
  }
  static file(path: string): StandInUri {
    return new StandInUri('file', '', path, '', '');
  }
  get fsPath(): string {
    return this.path;
  }
  with(change: { scheme?: string; authority?: string; path?: string; query?: string; fragment?: string }): vscode.Uri {
    return new StandInUri(change.scheme ?? this.scheme, change.authority ?? this.authority, change.path ?? this.path, change.query ?? this.query, change.fragment ?? this.fragment);
  }
  toString(): string {
    if (this.scheme === 'file') return pathToFileURL(this.path).href;
    return `${this.scheme}://${this.authority}${this.path}${this.query ? `?${this.query}` : ''}${this.fragment ? `#${this.fragment}` : ''}`;
  }
  toJSON(): unknown {
    return { scheme: this.scheme, path: this.path };
  }
}

class StatusBarItem implements vscode.StatusBarItem {
  readonly id = 'cocaster';
  name: string | undefined;
  text = '';
  tooltip: string | vscode.MarkdownString | undefined;
  color: string | vscode.ThemeColor | undefined;
  backgroundColor: vscode.ThemeColor | undefined;
  command: string | vscode.Command | undefined;
  accessibilityInformation: vscode.AccessibilityInformation | undefined;
  visible = false;
  constructor(readonly alignment: vscode.StatusBarAlignment, readonly priority: number | undefined) {}
  show(): void {
    this.visible = true;
  }
  hide(): void {
    this.visible = false;
  }
  dispose(): void {
    this.visible = false;
  }
}

class OutputChannel implements vscode.OutputChannel {
  lines: string[] = [];
  constructor(readonly name: string) {}
  append(value: string): void {
    this.lines.push(value);
  }
  appendLine(value: string): void {
    this.lines.push(value);
  }
  replace(value: string): void {
    this.lines = [value];
  }
  clear(): void {
    this.lines = [];
  }
  show(): void {}
  hide(): void {}
  dispose(): void {}
}

class SecretStorage implements vscode.SecretStorage {
  readonly values = new Map<string, string>();
  private readonly changed = emitter<vscode.SecretStorageChangeEvent>();
  readonly onDidChange = this.changed.event;
  async get(key: string): Promise<string | undefined> {
    return this.values.get(key);
  }
  async store(key: string, value: string): Promise<void> {
    this.values.set(key, value);
    this.changed.fire({ key });
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
    this.changed.fire({ key });
  }
}

export class StandInWebviewView implements vscode.WebviewView {
  readonly viewType = 'cocaster.transcript';
  title: string | undefined;
  description: string | undefined;
  badge: vscode.ViewBadge | undefined;
  readonly visible = true;
  readonly posted: unknown[] = [];
  private readonly received = emitter<unknown>();
  private readonly disposed = emitter<void>();
  readonly onDidDispose = this.disposed.event;
  readonly onDidChangeVisibility = emitter<void>().event;
  readonly webview: vscode.Webview;
  constructor() {
    const posted = this.posted;
    this.webview = {
      options: {},
      html: '',
      cspSource: 'vscode-webview://stand-in',
      onDidReceiveMessage: this.received.event,
      postMessage: async (message: unknown) => (posted.push(message), true),
      asWebviewUri: (uri: vscode.Uri) => uri,
    };
  }
  /** What the page script sends to the extension. */
  fromPage(message: unknown): void {
    this.received.fire(message);
  }
  show(): void {}
}

export interface StandIn {
  api: VscodeApi;
  context: ExtensionContextLike & { secrets: SecretStorage };
  statusItems: StatusBarItem[];
  channels: OutputChannel[];
  commands: Map<string, (...args: unknown[]) => unknown>;
  info: string[];
  errors: string[];
  /** Every InputBoxOptions the extension showed. */
  inputBoxes: vscode.InputBoxOptions[];
  /** Answers for the next input boxes, quick picks (by index) and save dialogs; undefined cancels. */
  answers: { input: Array<string | undefined>; pick: Array<number | undefined>; save: Array<vscode.Uri | undefined> };
  clipboard: string;
  opened: vscode.Uri[];
  settings: Map<string, unknown>;
  views: Map<string, vscode.WebviewViewProvider>;
  /** Runs a registered command as VS Code's command palette would. */
  run(command: string): Promise<unknown>;
}

export function standIn(settings: Record<string, unknown> = {}, workspaceFolder?: string): StandIn {
  const s: StandIn = {
    statusItems: [], channels: [], commands: new Map(), info: [], errors: [], inputBoxes: [],
    answers: { input: [], pick: [], save: [] }, clipboard: '', opened: [], settings: new Map(Object.entries(settings)), views: new Map(),
    context: { subscriptions: [], secrets: new SecretStorage() },
    run: async (command) => {
      const handler = s.commands.get(command);
      if (!handler) throw new Error(`command '${command}' is not registered`);
      return handler();
    },
    api: undefined as unknown as VscodeApi,
  };
  const configuration = (section: string): Pick<vscode.WorkspaceConfiguration, 'get'> => ({
    get: (<T>(key: string, defaultValue?: T): T | undefined => (s.settings.has(`${section}.${key}`) ? (s.settings.get(`${section}.${key}`) as T) : defaultValue)) as vscode.WorkspaceConfiguration['get'],
  });
  s.api = {
    window: {
      createStatusBarItem: (alignment, priority) => {
        const item = new StatusBarItem(alignment ?? 1, priority);
        s.statusItems.push(item);
        return item;
      },
      createOutputChannel: (name) => {
        const channel = new OutputChannel(name);
        s.channels.push(channel);
        return channel;
      },
      showInputBox: async (options) => {
        s.inputBoxes.push(options ?? {});
        const answer = s.answers.input.shift();
        // VS Code does not accept what validateInput rejects.
        if (answer !== undefined && options?.validateInput && (await options.validateInput(answer))) return undefined;
        return answer;
      },
      showQuickPick: async (items) => {
        const i = s.answers.pick.shift();
        return i === undefined ? undefined : items[i];
      },
      showSaveDialog: async () => s.answers.save.shift(),
      showInformationMessage: async (message) => (s.info.push(message), undefined),
      showErrorMessage: async (message) => (s.errors.push(message), undefined),
      registerWebviewViewProvider: (viewId, provider) => {
        s.views.set(viewId, provider);
        return { dispose: () => void s.views.delete(viewId) };
      },
    },
    commands: {
      registerCommand: (command, callback) => {
        if (s.commands.has(command)) throw new Error(`command '${command}' already exists`);
        s.commands.set(command, callback);
        return { dispose: () => void s.commands.delete(command) };
      },
    },
    workspace: {
      getConfiguration: configuration,
      fs: { writeFile: (uri, content) => writeFile(uri.fsPath, content) },
      workspaceFolders: workspaceFolder ? [{ uri: StandInUri.file(workspaceFolder), name: 'ws', index: 0 }] : undefined,
    },
    env: {
      clipboard: { readText: async () => s.clipboard, writeText: async (v) => void (s.clipboard = v) },
      openExternal: async (uri) => (s.opened.push(uri), true),
    },
    Uri: StandInUri,
    StatusBarAlignment: { Left: 1, Right: 2 },
  };
  return s;
}
