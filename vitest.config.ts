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
      // The same for the rest of lib/: the public entry loads its modules on
      // first use with require() (lib/index.ts), which only the compiled
      // files can serve, and one copy of each module keeps singletons (the
      // heartbeat's scheduler) shared between a test and the package.
      { find: /^(?:\.\.?\/)+lib(\/.*)?$/, replacement: join(root, 'dist') + '$1' },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Real sockets and child processes: keep files in separate processes.
    pool: 'forks',
    // dist/ is loaded by Node itself, as users load it: its lazy require()s
    // then meet the modules a test imports in one module cache.
    server: { deps: { external: [/\/dist\//] } },
  },
});
