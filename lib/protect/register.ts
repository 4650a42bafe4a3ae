// The preload: `node --require tcp-keepalive/register` or `--import`, or the
// same in NODE_OPTIONS. Reads the policy from TCP_KEEPALIVE; a bad one ends
// the process with status 9 (Node's own for invalid arguments) before the
// application runs, never a process that silently protects nothing.
//
// Without the native addon the policy is what Node's own setKeepAlive()
// can set (the idle delay; interval and count on Node 24.19+ and 26.4+):
// one line at start says what is not applied and why, or, with
// `addon=required` in TCP_KEEPALIVE, the process exits 9 instead.
import { hasAddon, missingAddon } from '../native';
import { fieldsNodeCannotSet, parsePolicySettings, type PolicyOptions } from './policy';
import { protect } from './protect';

const PREFIX = 'tcp-keepalive/register: ';

function fail(message: string): never {
  process.stderr.write(`${PREFIX}${message.replace(/[\r\n]+/g, ' ')}\n`);
  process.exit(9);
}

/** The fields of the policy that Node cannot set (within= sets all four). */
function unappliable(options: PolicyOptions): string[] {
  const given = options.within !== undefined ? ['idle', 'interval', 'count', 'userTimeout'] : Object.keys(options);
  return fieldsNodeCannotSet().filter((field) => given.includes(field));
}

try {
  const { options, addon } = parsePolicySettings(process.env.TCP_KEEPALIVE);
  if (!hasAddon()) {
    const lost = unappliable(options);
    const applied = (options.within !== undefined ? ['idle', 'interval', 'count'] : Object.keys(options)).filter((field) => !lost.includes(field));
    // the reason and how to get the addon, in the words every other message uses
    const why = missingAddon(lost.length > 0 ? lost.join(', ') : 'the policy').message;
    if (addon === 'required') fail(`TCP_KEEPALIVE has addon=required: ${why}`);
    if (applied.length === 0) fail(`none of the policy can be applied through Node's setKeepAlive: ${why}`);
    if (lost.length > 0) {
      const nodeValues = lost.includes('interval') && process.platform !== 'win32' ? ' (Node sets interval 1 s and count 10)' : '';
      process.stderr.write(
        `${PREFIX}${applied.join(', ')} applied through Node's setKeepAlive${nodeValues}, not ${lost.join(', ')}: ${why}. ` +
          'Add addon=required to TCP_KEEPALIVE to exit instead\n',
      );
    }
  }
  protect(options);
} catch (error) {
  fail((error as Error).message);
}
