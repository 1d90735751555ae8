#!/usr/bin/env bash
# scripts/simdjson-amalgamation.sh DIR - puts simdjson's amalgamated simdjson.h and simdjson.cpp
# in DIR, for builds that have no simdjson library for their host (the Windows cross build:
# meson -Dsimdjson_amalgamation=DIR). Debian ships the header but not the .cpp, so both come
# from Debian's source package of the installed libsimdjson-dev (its upstream tarball has them
# in singleheader/). apt-get works from a private state directory beside DIR with one deb-src
# line of its own: the system's apt sources are not touched. Signatures are checked as usual.
set -euo pipefail
out=$1
[ -f "$out/simdjson.cpp" ] && [ -f "$out/simdjson.h" ] && exit 0

version=$(dpkg-query -W -f='${source:Version}' libsimdjson-dev)
upstream=${version%-*}
upstream=${upstream#*:}
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
mkdir -p "$out"
out=$(cd "$out" && pwd) # apt takes relative paths as relative to /etc/apt
work=$(dirname "$out")/simdjson-source
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/sources"
: >"$work/sources.list"
cat >"$work/sources/debian-src.sources" <<SRC
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt=(-o Dir::State::Lists="$work/lists" -o Dir::Etc::SourceParts="$work/sources"
     -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Cache="$work/cache" -o APT::Sandbox::User=root)
apt-get "${apt[@]}" -qq update
(cd "$work" && apt-get "${apt[@]}" -qq source --download-only "simdjson=$version" >/dev/null)
tar -xzf "$work/simdjson_${upstream}.orig.tar.gz" -C "$out" --strip-components=2 \
  "simdjson-${upstream}/singleheader/simdjson.h" "simdjson-${upstream}/singleheader/simdjson.cpp"
# The header must be the one the native build uses, or the two builds test different code.
cmp -s "$out/simdjson.h" /usr/include/simdjson.h || {
  echo "simdjson-amalgamation: $out/simdjson.h differs from /usr/include/simdjson.h" >&2; exit 1; }
