// The preload: `node --require tcp-keepalive/register` or `--import`, or the
// same in NODE_OPTIONS. Reads the policy from TCP_KEEPALIVE; a bad one ends
// the process with status 9 (Node's own for invalid arguments) before the
// application runs, never a process that silently protects nothing.
import { parsePolicyText } from './policy';
import { protect } from './protect';

try {
  protect(parsePolicyText(process.env.TCP_KEEPALIVE));
} catch (error) {
  process.stderr.write(`tcp-keepalive/register: ${(error as Error).message}\n`);
  process.exit(9);
}
