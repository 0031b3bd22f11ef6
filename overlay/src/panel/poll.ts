import { onDestroy } from 'svelte';

/** For state that changes in the daemon only (held questions, plugin states): runs
 * `load` now and every `ms` while the calling component is mounted, and returns it for
 * a refresh after a change. A failed load is skipped: the status bar already shows a
 * lost connection. Call it while the component initialises (it registers onDestroy). */
export function pollWhileMounted(load: () => Promise<void>, ms: number): () => Promise<void> {
  const refresh = async () => {
    try {
      await load();
    } catch {
      // shown by the status bar
    }
  };
  const timer = setInterval(refresh, ms);
  void refresh();
  onDestroy(() => clearInterval(timer));
  return refresh;
}
