import { describe, expect, it } from 'vitest';
import { Caption } from '../../src/plugins/builtin/obs-text/caption.js';

describe('the obs-text caption', () => {
  it('grows with the deltas, becomes the final line, and clears on a new line or a pause', () => {
    const c = new Caption();
    expect(c.apply({ type: 'speechStart', t: 1, trigger: 'self' })).toBe(false);
    expect(c.apply({ type: 'speechDelta', t: 1, text: 'Goal' })).toBe(true);
    c.apply({ type: 'speechDelta', t: 1, text: ' for red' });
    expect(c.text).toBe('Goal for red');
    expect(c.apply({ type: 'say', t: 1, text: ' Goal for red! ', trigger: 'self', tokenIds: [] })).toBe(true);
    expect(c.text).toBe('Goal for red!');
    expect(c.apply({ type: 'frame', t: 2, pInterval: 0.9, decision: 'silent' })).toBe(false);
    c.apply({ type: 'speechStart', t: 3, trigger: 'question' });
    expect(c.text).toBe('');
    c.apply({ type: 'speechDelta', t: 3, text: 'Blue' });
    expect(c.apply({ type: 'paused', t: 3 })).toBe(true);
    expect(c.text).toBe('');
  });
});
