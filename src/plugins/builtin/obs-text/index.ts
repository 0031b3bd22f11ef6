/**
 * The OBS text output: the live caption in a native OBS Text source, for OBS builds
 * without the Browser Source (Debian's, some Flatpaks) and for streamers who prefer a
 * native source. Written against the public plugin API only.
 */
import type { CocasterPlugin } from '../../../plugin-api/index.js';
import { Caption } from './caption.js';
import { ObsText } from './obsText.js';

const plugin: CocasterPlugin = {
  activate(ctx) {
    const s = ctx.settings;
    const obs = new ObsText(
      {
        url: String(s.url), password: typeof s.password === 'string' ? s.password : undefined, source: String(s.source),
        create: s.create === true, scene: typeof s.scene === 'string' ? s.scene : undefined, font: String(s.font), size: Number(s.size),
      },
      ctx.log,
    );
    const caption = new Caption();
    const clearAfterMs = Number(s.clearAfterS) * 1000;
    let clearTimer: ReturnType<typeof setTimeout> | undefined;
    obs.start();
    return [
      ctx.onAny((event) => {
        if (!caption.apply(event)) return;
        clearTimeout(clearTimer);
        obs.set(caption.text);
        // A finished line fades after clearAfterS, like the overlay's.
        if (event.type === 'say' && clearAfterMs > 0) clearTimer = setTimeout(() => obs.set((caption.text = '')), clearAfterMs);
      }),
      { dispose: () => clearTimeout(clearTimer) },
      { dispose: () => obs.close() },
    ];
  },
};
export default plugin;
