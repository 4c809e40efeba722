#!/usr/bin/env bash
# The local Airflow CeleryExecutor cluster (docs/deploy.md): `scripts/cluster.sh up|down|status|services|env`.
# The work is done by scripts/cluster.py with the project's virtualenv; this wrapper only finds it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
export SGS_HOME="${SGS_HOME:-$root}"
py="${SGS_CLUSTER_PYTHON:-$root/.venv/bin/python}"
if [ ! -x "$py" ]; then
  echo "error: $py not found: run 'make install' first" >&2
  exit 2
fi
exec "$py" "$here/cluster.py" "$@"
