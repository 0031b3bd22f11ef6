import { describe, expect, it } from 'vitest';
import { reconnectBackoff } from '../src/capture/obs/connection.js';

describe('OBS reconnect delays', () => {
  it('retry a local OBS every 250 ms, so frames resume soon after it listens again', () => {
    for (const url of ['ws://127.0.0.1:4455', 'ws://localhost:4455', 'ws://[::1]:4455', 'ws://127.0.1.1:4455']) {
      expect(reconnectBackoff(url)).toEqual({ first: 250, max: 250 });
    }
  });

  it('back off to 5 s for a remote OBS (a streaming PC), and for what is not a URL', () => {
    for (const url of ['ws://192.168.1.20:4455', 'wss://obs.example.net', 'ws://127.0.0.1.example.net:4455', 'not a url']) {
      expect(reconnectBackoff(url)).toEqual({ first: 250, max: 5000 });
    }
  });
});
