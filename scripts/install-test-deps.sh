#!/usr/bin/env bash
# Installs, with apt-get, the system tools the test suite uses and that a fresh
# Debian machine lacks. Runs before `npm test` (pretest). As root it installs
# what is missing; as any other user it only lists what is missing, and the
# tests that need it skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."

# One package per line: "<command or file that proves it is there> <debian package>"
# Keep the reason beside each line.
deps=(
  "qemu-aarch64 qemu-user"        # test/package/prebuild-arm64.test.ts runs the arm64 prebuild in an arm64 Node
  "/usr/lib/wine/wine64 wine64"   # test/package/prebuild-win32.test.ts runs the win32 prebuild in Windows Node
  "/usr/bin/redis-server redis-server"  # real servers test/support/servers.ts starts in namespaces of their own (test/servers/)
  "/usr/lib/postgresql postgresql"      # the same
  "/usr/sbin/mariadbd mariadb-server"   # the same
  "/usr/sbin/nft nftables"              # blackholes a server's namespace (test/support/servers.ts)
  "chromium chromium"  # renders the drill's SVG timeline once, to check the picture is not blank (test/harness/drill-timeline.test.ts)
  # real servers test/support/servers.ts starts in a namespace of its own (test/servers/)
  "/usr/bin/redis-server redis-server"
  "/usr/lib/postgresql postgresql"
  "/usr/sbin/mariadbd mariadb-server"
  # blackholes a server's namespace
  "/usr/sbin/nft nftables"
)

exec bash scripts/apt-ensure.sh "${deps[@]}"
