#!/usr/bin/env bash
# System packages the project uses at run time. Installed with apt-get when we are root and they are
# missing; otherwise we only say what is missing (the pipeline runs without them):
# - unixodbc: the ODBC connector (SQL Server through pyodbc) loads libodbc.so.2;
# - odbc-mariadb, odbc-postgresql: real ODBC drivers the connector contract tests run pyodbc against;
# - chromium, chromium-driver: the headless browser the dashboard test (tests/plugins) opens the
#   Airflow "双公示" page with, to check what an operator actually sees;
# - fonts-wqy-microhei: a small Chinese font, so that page's screenshot (and any headless rendering of the
#   reports) shows 汉字 instead of empty boxes;
# - libmariadb-dev, pkg-config, gcc: mysqlclient (the C MySQL/MariaDB driver of mysql:// sources, pinned in
#   requirements.txt) is built from source by pip against the MariaDB client library; without them
#   `pip install -r requirements.txt` fails.
# - redis-server: the Celery broker of the local cluster (scripts/cluster.sh, tests/cluster) runs its own.
set -u
need=()
ldconfig -p 2>/dev/null | grep -q 'libodbc.so.2' || need+=(unixodbc)
grep -qs '^\[MariaDB Unicode\]' /etc/odbcinst.ini || need+=(odbc-mariadb)
grep -qs '^\[PostgreSQL Unicode\]' /etc/odbcinst.ini || need+=(odbc-postgresql)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
{ command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh 2>/dev/null | head -1)" ]; } || need+=(fonts-wqy-microhei)
{ command -v pkg-config >/dev/null 2>&1 && pkg-config --exists libmariadb 2>/dev/null; } || need+=(libmariadb-dev pkg-config)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing system packages: ${need[*]}"
  (apt-get install -y -qq "${need[@]}" >/dev/null 2>&1) || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${need[@]}" >/dev/null; } \
    || echo "warning: could not install ${need[*]}; the ODBC connector, the browser test of the dashboard or the mysqlclient build will not work" >&2
else
  echo "note: install these system packages (ODBC connector, browser test of the dashboard, mysqlclient build): ${need[*]} (e.g. sudo apt-get install ${need[*]})" >&2
fi
exit 0
