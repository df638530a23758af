import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The gateway serves the build under /dashboard/ (server/dashboard.ts) from dist/web, beside tsc's output.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/dashboard/',
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
  },
  server: {
    // `npm run dev:web`: the page on Vite's port talks to a gateway on the default one, same-origin
    // through the proxy, as it does when the gateway serves it.
    proxy: { '/graphql': { target: 'http://127.0.0.1:4000', ws: true }, '/health': 'http://127.0.0.1:4000' },
  },
});
