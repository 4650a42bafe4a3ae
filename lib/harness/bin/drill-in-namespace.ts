// Runs inside `unshare -U -r -n` (root of a namespace of its own, loopback
// up): the drill scenarios the parent lacked the privilege for. Progress and
// rows go back over the IPC channel.
import { runDrill, type DrillOptions } from '../drill/scenarios';

if (!process.send) {
  process.stderr.write('tcp-keepalive harness: namespace-run is started by the harness (it reports over IPC)\n');
  process.exit(2);
}
// The parent gone means nobody waits for these rows; exiting kills the peers.
process.on('disconnect', () => process.exit(0));

const options = JSON.parse(process.argv[2] ?? '{}') as DrillOptions;
runDrill({ ...options, namespace: false, onProgress: (progress) => process.send!({ progress }) }).then(
  (rows) => process.send!({ rows }, () => process.exit(0)),
  (error: Error) => {
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  },
);
