#!/usr/bin/env bash
# Start the machine's PostgreSQL and MariaDB if they are not answering (the integration tests use them).
set -u
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
my_up() { mysqladmin -h 127.0.0.1 -P 3306 -uroot ping >/dev/null 2>&1; }
if ! pg_up && command -v pg_ctlcluster >/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! my_up && [ -x /usr/sbin/mariadbd ]; then
  echo "starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
for _ in $(seq 1 30); do pg_up && my_up && exit 0; sleep 1; done
pg_up || echo "warning: PostgreSQL is not answering on 127.0.0.1:5432" >&2
my_up || echo "warning: MariaDB is not answering on 127.0.0.1:3306" >&2
exit 0
