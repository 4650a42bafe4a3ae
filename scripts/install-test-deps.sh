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

missing=()
for entry in "${deps[@]}"; do
  probe="${entry%% *}"
  pkg="${entry#* }"
  if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] && continue
  else command -v "$probe" >/dev/null 2>&1 && continue
  fi
  missing+=("$pkg")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]]; then
  echo "test deps: not root, not installing: ${missing[*]} (the tests that need them will skip)" >&2
  exit 0
fi
echo "test deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
if [[ ! -e /var/lib/apt/lists/lock ]] || [[ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
