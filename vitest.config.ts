import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = __dirname;

export default defineConfig({
  resolve: {
    alias: [
      // The harness starts its peers and namespace runs as compiled child
      // processes (dist/harness/bin/…), so tests load the compiled harness too:
      // the same files a user runs, found without the harness knowing where
      // it was built.
      { find: /^.*\/lib\/harness(\/.*)?$/, replacement: join(root, 'dist', 'harness') + '$1' },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real sockets and child processes: keep files in separate processes.
    pool: 'forks',
  },
});
