/** The entry VS Code loads: the real `vscode` module, checked against VscodeApi. */
import * as vscode from 'vscode';
import { activateWith } from './controller.js';
import type { VscodeApi } from './vscodeApi.js';

const api: VscodeApi = vscode;

export function activate(context: vscode.ExtensionContext): void {
  activateWith(api, context);
}

export function deactivate(): void {}
