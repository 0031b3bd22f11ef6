import { svelte } from '@sveltejs/vite-plugin-svelte';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// OBS 29's browser source is Chromium 103: nothing newer may reach the bundle.
export default defineConfig({
  plugins: [svelte()],
  base: '/',
  build: {
    target: 'chrome103',
    outDir: 'dist',
    emptyOutDir: true,
    rollupOptions: {
      input: { overlay: resolve(import.meta.dirname, 'overlay.html'), panel: resolve(import.meta.dirname, 'panel.html') },
    },
  },
});
