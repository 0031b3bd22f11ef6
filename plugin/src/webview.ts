/** The live transcript's webview page: the extension posts `{ type: 'lines', items }`
 * (TranscriptItem[]) and `{ type: 'state', text }`; the page renders them, escaping
 * everything (lines are model output and viewers' text). */
export function transcriptHtml(nonce: string, cspSource: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${cspSource} 'nonce-${nonce}'; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="${nonce}">
  body { font-family: var(--vscode-font-family, sans-serif); font-size: var(--vscode-font-size, 13px); padding: 0 8px; }
  #state { opacity: .7; margin: 6px 0; }
  .line { margin: 4px 0; }
  .time { opacity: .6; margin-right: 4px; font-variant-numeric: tabular-nums; }
  .who { font-weight: 600; margin-right: 4px; }
  .user .who { color: var(--vscode-textLink-foreground, #3794ff); }
</style></head>
<body>
<div id="state">connecting…</div>
<div id="lines" role="log" aria-live="polite"></div>
<script nonce="${nonce}">
  const vscode = acquireVsCodeApi();
  const list = document.getElementById('lines');
  const state = document.getElementById('state');
  function render(items) {
    list.replaceChildren(...items.map((item) => {
      const div = document.createElement('div');
      div.className = 'line ' + item.role;
      div.dataset.key = item.key;
      for (const [cls, text] of [['time', item.time], ['who', item.who + ':'], ['text', item.text]]) {
        const span = document.createElement('span');
        span.className = cls;
        span.textContent = text;
        div.append(span);
      }
      return div;
    }));
    window.scrollTo(0, document.body.scrollHeight);
  }
  window.addEventListener('message', (e) => {
    if (e.data.type === 'lines') render(e.data.items);
    if (e.data.type === 'state') state.textContent = e.data.text;
  });
  vscode.postMessage({ type: 'ready' });
</script>
</body></html>`;
}
