# scripts/windows-env.sh - sourced (from the repository's root, with $root set to it) by the
# scripts that cross-build for Windows and run the result under wine: scripts/test.sh
# (configuration `windows`) and bench/wine_compare. Returns non-zero, saying why, when the
# setup fails.
#
# - build/mingw-include.ini: the machine file that names build/mingw-include, a directory of
#   links to just Asio's and Boost's headers, so that no other header of the build machine
#   reaches the cross build (see cross/mingw-w64.txt);
# - WINEPREFIX: one quiet wine prefix of our own under build/, booted once (the first boot takes
#   a minute); WINEDEBUG=-all.
# shellcheck shell=bash

windows_env() {
  mkdir -p "$root/build/mingw-include"
  ln -sfn /usr/include/asio /usr/include/asio.hpp /usr/include/boost "$root/build/mingw-include/"
  printf "[constants]\nipc_sysinc = '%s'\n" "$root/build/mingw-include" >"$root/build/mingw-include.ini"
  export WINEPREFIX=$root/build/wine-prefix WINEDEBUG=-all
  if [ ! -f "$WINEPREFIX/system.reg" ] && ! wineboot -i >"$root/build/wineboot.log" 2>&1; then
    cat "$root/build/wineboot.log"
    echo "wineboot failed" >&2
    return 1
  fi
}
