/**
 * Builds the browser app: `vite build web` (npm run build:web) writes web/dist, which
 * the server serves at `/` (server/http/static.ts). Everything is bundled; nothing is
 * loaded from a CDN at run time.
 */
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: true,
    target: 'es2022',
    // xterm and the replay player are large by nature; they are split into their own chunks.
    chunkSizeWarningLimit: 900,
  },
  server: {
    // `npx vite web` for working on the pages, with the API of a server on :8080.
    proxy: {
      '/api': { target: 'http://127.0.0.1:8080', ws: true },
    },
  },
});
