#!/usr/bin/env bash
# Copies this checkout to a scratch directory, builds the addon there with
# AddressSanitizer and UndefinedBehaviorSanitizer, and runs the whole vitest
# suite in that copy. The checkout's own build/ is left alone, and the
# production loader needs no way to be pointed at another addon.
#
# Node itself is not instrumented, so libasan is preloaded and leak checking
# is off (node's own allocations at exit would be reported); every other
# ASan error, and any UBSan report, ends the process and fails the run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${ASAN_BUILD_DIR:-$(mktemp -d /tmp/tcp-keepalive-asan.XXXXXX)}"
cleanup() { [ -n "${ASAN_BUILD_DIR:-}" ] || rm -rf "$work"; }
trap cleanup EXIT
# mktemp makes it 0700: the tests that drop to user nobody run a copy of the
# package (with this sanitized addon) that nobody can reach (test/support/nobody.ts).

# Everything but the builds; node_modules is shared through a link.
tar -C "$root" --exclude=./node_modules --exclude=./build --exclude=./prebuilds -cf - . | tar -C "$work" -xf -
ln -sfn "$root/node_modules" "$work/node_modules"

# Headers of the running node: its own install when it ships them (offline),
# otherwise node-gyp's download.
nodedir="${npm_config_nodedir:-$(node -p 'require("path").resolve(process.execPath, "../..")')}"
nodedir_flag=()
[ -f "$nodedir/include/node/node_api.h" ] && nodedir_flag=(--nodedir="$nodedir")

sanitize="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
echo "== building the addon with $sanitize in $work"
(cd "$work" && CFLAGS="$sanitize" CXXFLAGS="$sanitize" LDFLAGS="-fsanitize=address,undefined" \
  "$root/node_modules/.bin/node-gyp" rebuild --loglevel=warn "${nodedir_flag[@]}")

addon="$work/build/Release/tcp_keepalive.node"
if ! ldd "$addon" | grep -q libasan; then
  echo "asan.sh: $addon is not linked against libasan" >&2
  exit 1
fi
libasan="$(ldd "$addon" | awk '/libasan/ {print $3}')"

cd "$work"
node node_modules/typescript/bin/tsc -p .

export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:print_summary=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

# The suite must really be talking to the sanitized build.
node -e '
  // The loader opens the addon on first use: make it.
  require("./dist/native").hasAddon();
  const maps = require("fs").readFileSync("/proc/self/maps", "utf8");
  if (!maps.includes(process.cwd() + "/build/Release/tcp_keepalive.node")) {
    console.error("asan.sh: the sanitized addon was not the one loaded"); process.exit(1);
  }
  console.log("== sanitized addon loaded from", process.cwd());
'
node node_modules/vitest/vitest.mjs run "$@"
