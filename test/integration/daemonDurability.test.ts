import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ServerMessage } from '../../src/protocol/index.js';
import { runCli } from '../helpers.js';
import { rawRequest, startDaemonProcess, until } from '../daemonHarness.js';

interface Row {
  session_id: number;
  role: string;
  text: string;
  asker: string | null;
  video_t: number;
}

describe('transcript durability', () => {
  it('a kill -9 loses no line that was broadcast; a restart opens a new session; captions export the old one', async () => {
    const d = await startDaemonProcess();
    const heard: Array<{ role: 'assistant' | 'user'; text: string; t: number }> = [];
    const ws = new WebSocket(`ws://127.0.0.1:${d.port}/ws/overlay?token=${d.tokens.overlay}`);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as ServerMessage;
      if (m.kind !== 'event') return;
      if (m.event.type === 'say') heard.push({ role: 'assistant', text: m.event.text, t: m.event.t });
      if (m.event.type === 'questionQueued') heard.push({ role: 'user', text: m.event.text, t: m.event.t });
    });
    await new Promise((res) => ws.on('open', res));
    const ask = await rawRequest(d.port, 'POST', '/api/ask', { Authorization: `Bearer ${d.tokens.control}`, 'Content-Type': 'application/json' }, JSON.stringify({ text: 'Who is winning?', asker: 'Alice' }));
    expect(ask.status).toBe(200);
    await until(() => heard.filter((h) => h.role === 'assistant').length >= 6, 'six spoken lines');
    // Killed without warning, mid-stream: whatever the socket saw must already be on disk.
    expect(await d.stop('SIGKILL')).toBeNull();
    ws.terminate();
    const db = new Database(join(d.configDir, 'transcripts.db'));
    const rows = db.prepare('SELECT session_id, role, text, asker, video_t FROM lines ORDER BY id').all() as Row[];
    db.close();
    expect(rows.every((r) => r.session_id === 1)).toBe(true);
    for (const h of heard) expect(rows).toContainEqual(expect.objectContaining({ role: h.role, text: h.text, video_t: h.t }));
    expect(rows).toContainEqual(expect.objectContaining({ role: 'user', text: 'Who is winning?', asker: 'Alice' }));

    const again = await startDaemonProcess(undefined, d.configDir);
    const status = JSON.parse((await rawRequest(again.port, 'GET', '/api/status', { Authorization: `Bearer ${again.tokens.overlay}` })).body);
    expect(status.sessionId).toBe(2);
    expect(await again.stop('SIGTERM')).toBe(0);

    const env = { COCASTER_CONFIG_DIR: d.configDir };
    const srt = await runCli(['captions', '--session', '1', '--format', 'srt'], env);
    expect(srt.code).toBe(0);
    const spoken = rows.filter((r) => r.role === 'assistant' && r.text.trim() !== '');
    const cues = srt.stdout.split('\n\n').filter((b) => b.trim() !== '');
    expect(cues).toHaveLength(spoken.length);
    expect(cues[0]).toMatch(/^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n/);
    const vtt = await runCli(['captions', '--session', '1', '--format', 'vtt'], env);
    expect(vtt.stdout.startsWith('WEBVTT\n\n')).toBe(true);
    const missing = await runCli(['captions', '--session', '99'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^cocaster: no session '99'/);
  }, 180_000);
});
