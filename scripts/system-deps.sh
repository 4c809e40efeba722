#!/usr/bin/env bash
# System libraries the Python drivers load at run time. Installed with apt-get when we are root and
# they are missing; otherwise we only say what is missing (the pipeline runs without them, but the
# ODBC connector cannot be used).
set -u
need=()
ldconfig -p 2>/dev/null | grep -q 'libodbc.so.2' || need+=(unixodbc)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need[*]}"
  (apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || echo "warning: could not install ${need[*]}; the ODBC connector will not work" >&2
else
  echo "note: install these system packages for the ODBC connector: ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
fi
exit 0
