#!/usr/bin/env bash
# scripts/glibc-floor.sh BINARY
#
# Checks that BINARY loads with GNU libc 2.34 (RHEL 9; Ubuntu 22.04 has 2.35): reads the
# symbol versions it requires (`readelf -V`, its version-needs section) and fails (exit 1)
# on GLIBC_ABI_DT_RELR (packed relative relocations, glibc 2.36 and newer only) or on any
# GLIBC_2.x above 2.34. Prints the highest GLIBC_2.x version required.
# Exit 2: no binary given, or readelf could not read it. READELF overrides the tool.
set -euo pipefail

FLOOR_MINOR=34
readelf=${READELF:-readelf}

if [ $# -ne 1 ]; then
  echo "usage: $0 BINARY" >&2
  exit 2
fi
binary=$1
if ! versions=$("$readelf" -V --wide "$binary"); then
  echo "glibc-floor: $readelf could not read $binary" >&2
  exit 2
fi

# The names of the required versions: "  0x0080:   Name: GLIBC_2.2.5  Flags: none  Version: 3".
needed=$(printf '%s\n' "$versions" |
  sed -n '/^Version needs section/,/^$/ s/.*Name: \([^ ]*\).*/\1/p' | sort -u)

failed=0
if printf '%s\n' "$needed" | grep -qx 'GLIBC_ABI_DT_RELR'; then
  echo "glibc-floor: $binary requires GLIBC_ABI_DT_RELR (packed relative relocations, -z pack-relative-relocs): it does not load with glibc older than 2.36" >&2
  failed=1
fi

highest=""
highest_minor=-1
while read -r name; do
  [[ $name =~ ^GLIBC_2\.([0-9]+)(\.[0-9]+)?$ ]] || continue
  minor=${BASH_REMATCH[1]}
  if [ "$minor" -gt "$highest_minor" ] ||
    { [ "$minor" -eq "$highest_minor" ] && [[ $name > $highest ]]; }; then
    highest=$name
    highest_minor=$minor
  fi
  if [ "$minor" -gt "$FLOOR_MINOR" ]; then
    echo "glibc-floor: $binary requires $name, above the floor GLIBC_2.$FLOOR_MINOR (RHEL 9, Ubuntu 22.04)" >&2
    failed=1
  fi
done <<<"$needed"

if [ -z "$highest" ]; then
  echo "glibc-floor: $binary requires no GLIBC_2.x symbol version"
else
  echo "glibc-floor: highest glibc version $binary requires: $highest (floor GLIBC_2.$FLOOR_MINOR)"
fi
exit "$failed"
