import { defineConfig } from 'vite';

// The app serves dist/ at its root with express.static: relative asset paths,
// no inline scripts (CSP script-src 'self'), hash routes.
export default defineConfig({
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // Module preload is native in every browser the page supports: no polyfill.
    modulePreload: { polyfill: false },
    // One small stylesheet: keep it a file (style-src 'self').
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev -w @mymonit/web`: the API of a local app (npm run dev) behind Vite's dev server.
    proxy: Object.fromEntries(
      ['/config.json', '/me', '/users', '/experiments'].map((path) => [path, { target: 'http://127.0.0.1:5000' }]),
    ),
  },
});
