import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // graphql 16 ships index.mjs beside index.js. Node (and so Pothos and yoga) loads index.js, Vite
    // would give test and source files index.mjs, and two copies of graphql refuse each other's types.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts its own redis-server; two cores means two files at a time is the sweet spot.
    maxWorkers: 2,
    pool: 'forks',
  },
});
