// Where things are in this checkout: the one place the tests know the layout.
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');
/** The compiled package, as users load it (npm test compiles first). */
export const DIST = join(ROOT, 'dist');
export const DIST_INDEX = join(DIST, 'index.js');
export const DIST_HARNESS = join(DIST, 'harness', 'index.js');
export const BIN = join(ROOT, 'bin', 'tcp-keepalive.js');
export const FIXTURES = join(__dirname, 'fixtures');
