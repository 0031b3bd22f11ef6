import { describe, expect, it } from 'vitest';
import { shortcutFor } from '../overlay/src/panel/keys.js';

const key = (k: string, target: { tagName: string; type?: string; isContentEditable?: boolean } | null = { tagName: 'BODY' }, mods = {}) =>
  shortcutFor({ key: k, ctrlKey: false, metaKey: false, altKey: false, target, ...mods });

describe('panel shortcuts', () => {
  it('maps K, / and S outside text fields', () => {
    expect([key('k'), key('K'), key('/'), key('s'), key('x')]).toEqual(['toggle-pause', 'toggle-pause', 'focus-ask', 'focus-search', undefined]);
    // On the slider or a button the keys are still commands.
    expect(key('k', { tagName: 'INPUT', type: 'range' })).toBe('toggle-pause');
    expect(key('k', { tagName: 'BUTTON' })).toBe('toggle-pause');
  });

  it('leaves typing alone: text inputs, search, textareas, editable elements', () => {
    for (const target of [{ tagName: 'INPUT' }, { tagName: 'INPUT', type: 'search' }, { tagName: 'TEXTAREA' }, { tagName: 'DIV', isContentEditable: true }]) {
      expect(key('k', target)).toBeUndefined();
      expect(key('/', target)).toBeUndefined();
    }
  });

  it('leaves modifier chords to the browser and OBS', () => {
    expect(key('k', undefined, { ctrlKey: true })).toBeUndefined();
    expect(key('s', undefined, { metaKey: true })).toBeUndefined();
    expect(key('/', undefined, { altKey: true })).toBeUndefined();
  });
});
