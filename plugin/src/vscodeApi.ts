/**
 * The parts of the `vscode` module the extension uses, with @types/vscode's own types.
 * extension.ts assigns the real module to this type, so a signature here that drifts
 * from VS Code's fails to compile; the tests' stand-in implements the same type.
 */
import type * as vscode from 'vscode';

export interface VscodeApi {
  window: {
    createStatusBarItem(alignment?: vscode.StatusBarAlignment, priority?: number): vscode.StatusBarItem;
    createOutputChannel(name: string): vscode.OutputChannel;
    showInputBox(options?: vscode.InputBoxOptions): Thenable<string | undefined>;
    showQuickPick<T extends vscode.QuickPickItem>(items: readonly T[], options?: vscode.QuickPickOptions): Thenable<T | undefined>;
    showSaveDialog(options?: vscode.SaveDialogOptions): Thenable<vscode.Uri | undefined>;
    showInformationMessage(message: string): Thenable<string | undefined>;
    showErrorMessage(message: string): Thenable<string | undefined>;
    registerWebviewViewProvider(viewId: string, provider: vscode.WebviewViewProvider): vscode.Disposable;
  };
  commands: {
    registerCommand(command: string, callback: (...args: unknown[]) => unknown): vscode.Disposable;
  };
  workspace: {
    getConfiguration(section: string): Pick<vscode.WorkspaceConfiguration, 'get'>;
    readonly fs: Pick<vscode.FileSystem, 'writeFile'>;
    readonly workspaceFolders: readonly vscode.WorkspaceFolder[] | undefined;
  };
  env: {
    readonly clipboard: vscode.Clipboard;
    openExternal(target: vscode.Uri): Thenable<boolean>;
  };
  Uri: {
    parse(value: string): vscode.Uri;
    file(path: string): vscode.Uri;
  };
  StatusBarAlignment: typeof vscode.StatusBarAlignment;
}

export type ExtensionContextLike = Pick<vscode.ExtensionContext, 'subscriptions' | 'secrets'>;
