import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Each file starts its own redis-server; two cores means two files at a time is the sweet spot.
    maxWorkers: 2,
    pool: 'forks',
  },
});
