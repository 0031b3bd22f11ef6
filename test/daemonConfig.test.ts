import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/daemon/config.js';
import { commentaryCues, formatCaptions } from '../src/outputs/store/index.js';
import type { TranscriptLine } from '../src/protocol/index.js';
import { runCli, tempDir } from './helpers.js';

describe('daemon config', () => {
  it('has a default for everything', () => {
    expect(parseConfig({}, 'x')).toEqual({
      source: 'demo', fast: false, ep: 'auto', server: { host: '127.0.0.1', port: 4480 }, store: {}, outputs: ['console', 'server'], plugins: [], pluginSettings: {},
      obs: { url: 'ws://127.0.0.1:4455', pauseScenes: ['Starting Soon', 'BRB', 'Ending'], udpPort: 5600 },
    });
  });

  it('rejects unknown keys and bad values with the field named', () => {
    expect(() => parseConfig({ server: { prot: 1 } }, 'c.json')).toThrow(/bad config c\.json: .*prot/);
    expect(() => parseConfig({ threshold: 2 }, 'c.json')).toThrow(/field 'threshold'/);
    expect(() => parseConfig({ context: 1.5 }, 'c.json')).toThrow(/field 'context'/);
    expect(parseConfig({ context: 1024 }, 'c.json').context).toBe(1024); // the KV cache budget, passed to the engine
    expect(() => parseConfig({ outputs: ['irc'] }, 'c.json')).toThrow(/field 'outputs\.0'/);
  });

  it('twitch: repeats remembered over 20 lines by default, 0 allows them; proactive interval may be 0', () => {
    const t = parseConfig({ twitch: { channel: 'chan' } }, 'x').twitch!;
    expect(t.noRepeatLines).toBe(20);
    expect(t.proactiveIntervalS).toBe(60);
    const open = parseConfig({ twitch: { channel: 'chan', noRepeatLines: 0, proactiveIntervalS: 0 } }, 'x').twitch!;
    expect(open).toMatchObject({ noRepeatLines: 0, proactiveIntervalS: 0 });
    expect(() => parseConfig({ twitch: { noRepeatLines: -1 } }, 'c.json')).toThrow(/field 'twitch\.noRepeatLines'/);
    expect(() => parseConfig({ twitch: { noRepeatLines: 1.5 } }, 'c.json')).toThrow(/field 'twitch\.noRepeatLines'/);
  });

  it('cocaster start with a bad config: one line, exit 2', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.json');
    writeFileSync(file, '{"server": {"port": 99999}}');
    const res = await runCli(['start', '--config', file], { COCASTER_CONFIG_DIR: dir });
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^cocaster: bad config .*bad\.json: field 'server\.port'/)]);
    writeFileSync(file, '{"source": ');
    const broken = await runCli(['start', '--config', file], { COCASTER_CONFIG_DIR: dir });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toMatch(/^cocaster: bad config .*: not valid JSON/);
  });
});

describe('captions', () => {
  const line = (t: number, text: string, role: 'user' | 'assistant' = 'assistant'): TranscriptLine => ({ sessionId: 1, t, wallMs: 0, role, text, trigger: 'self', asker: null, questionId: null });

  it('puts commentary on stream time, ending at the next line or after reading time', () => {
    const cues = commentaryCues([line(1, 'Kick off.'), line(2, 'Who?', 'user'), line(3.25, 'A long run down the left wing by the number nine'), line(3661.5, 'Late goal')]);
    expect(cues.map((c) => [c.start, c.end])).toEqual([[1, 3], [3.25, 3.25 + 11 / 3], [3661.5, 3663.5]]);
    expect(formatCaptions(cues, 'srt')).toContain('1\n00:00:01,000 --> 00:00:03,000\nKick off.\n');
    expect(formatCaptions(cues, 'srt')).toContain('3\n01:01:01,500 --> 01:01:03,500\nLate goal\n');
    const vtt = formatCaptions(cues, 'vtt');
    expect(vtt.startsWith('WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nKick off.\n')).toBe(true);
  });
});
