// The addon's test-harness functions (src/harness.h): ways to make a peer die
// without telling the other end. They live on an export object of their own,
// so the library's binding does not list them.
import { harnessExports } from '../native';

export interface HarnessBinding {
  /** A BPF filter that drops every segment arriving for the socket (CAP_NET_ADMIN). */
  attachDropFilter(fd: number): void;
  detachFilter(fd: number): void;
  /** TCP_REPAIR: the socket closes without a FIN or RST (CAP_NET_ADMIN). */
  setRepairMode(fd: number, on: boolean): void;
}

export const harnessBinding = harnessExports as HarnessBinding;
