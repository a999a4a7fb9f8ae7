// The web console's build: console/ -> dist/console (served by the admin port, src/http/console-routes.ts).
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/',
  logLevel: 'warn',
  build: {
    outDir: '../dist/console',
    emptyOutDir: true,
    target: 'es2022',
    // One small app: no source maps shipped, no module preload polyfill needed by the browsers it targets.
    sourcemap: false,
    modulePreload: { polyfill: false },
  },
});
