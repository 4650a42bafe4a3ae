#!/usr/bin/env bash
# Installs with apt-get the Debian packages whose probe is missing.
# Arguments: one "<command or absolute file that proves it is there> <debian package>" each.
# As root it installs what is missing; as any other user it only lists it
# (callers then report or skip with that reason) and exits 0.
set -euo pipefail

missing=()
for entry in "$@"; do
  probe="${entry%% *}"
  pkg="${entry#* }"
  if [[ "$probe" == /* ]]; then [[ -e "$probe" ]] && continue
  else command -v "$probe" >/dev/null 2>&1 && continue
  fi
  missing+=("$pkg")
done

[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-ensure: not root or no apt-get, not installing: ${missing[*]}" >&2
  exit 0
fi
echo "apt-ensure: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt-get (a parallel job, unattended-upgrades) instead of failing.
apt=(apt-get -o DPkg::Lock::Timeout=600 -y -qq)
if [[ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]]; then
  "${apt[@]}" update
fi
"${apt[@]}" install --no-install-recommends "${missing[@]}" >/dev/null
