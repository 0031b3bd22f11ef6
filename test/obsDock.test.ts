import { describe, expect, it } from 'vitest';
import { dockInstructions } from '../src/cli/obsSetup.js';

/** What `cocaster obs setup` prints for the control-panel dock (the OBS it talks to
 * here lacks obs-browser, so the command's success path runs only on a full OBS). */
describe('obs setup: the dock URL', () => {
  it('names the OBS menu and gives the panel URL with the control token in the fragment', () => {
    const text = dockInstructions('127.0.0.1', 4480, 'ctl123');
    expect(text).toContain('View → Docks → Custom Browser Docks');
    expect(text.split('\n').at(-1)!.trim()).toBe('http://127.0.0.1:4480/#token=ctl123');
  });

  it('brackets an IPv6 host', () => {
    expect(dockInstructions('::1', 4480, 't')).toContain('http://[::1]:4480/#token=t');
  });
});
