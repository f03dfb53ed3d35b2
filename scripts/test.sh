#!/usr/bin/env bash
# Every check and test of Caudal. Called by `make test` (and so by CI).
#   scripts/test.sh          lint, types, import contracts, deploy check, tests on SQLite,
#                            then the tests again on a throwaway PostgreSQL server
#   scripts/test.sh lint     only the static checks
#   scripts/test.sh sqlite   static checks + SQLite tests
# Extra pytest arguments can be given in PYTEST_ARGS.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-all}
VENV=.venv
export DJANGO_SETTINGS_MODULE=caudal.settings.test
export CAUDAL_VAR_DIR=${CAUDAL_VAR_DIR:-$(mktemp -d /tmp/caudal-test-var.XXXXXX)}
unset DATABASE_URL

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "ruff (lint and format)"
$VENV/bin/ruff check .
$VENV/bin/ruff format --check .
step "mypy (django-stubs)"
$VENV/bin/mypy caudal
step "import contracts"
$VENV/bin/lint-imports
step "migrations are up to date"
$VENV/bin/caudal makemigrations --check --dry-run --settings=caudal.settings.test
step "deploy check with production settings"
DJANGO_SETTINGS_MODULE=caudal.settings.production \
CAUDAL_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')" \
CAUDAL_ALLOWED_HOSTS=caudal.example.org \
  $VENV/bin/caudal check --deploy --fail-level WARNING --settings=caudal.settings.production
[[ $mode == lint ]] && exit 0

# Playwright's sync API runs an event loop in the test thread; Django must allow ORM calls
# there. Set only for the tests (the deploy check above rightly refuses it).
export DJANGO_ALLOW_ASYNC_UNSAFE=true

# Two workers on two cores; each worker gets its own test database.
PYTEST=($VENV/bin/pytest -n 2 --dist loadfile ${PYTEST_ARGS:-})

step "tests on SQLite"
"${PYTEST[@]}"
[[ $mode == sqlite ]] && exit 0

step "tests on PostgreSQL (throwaway server)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $PGBIN/initdb ]] || { echo "PostgreSQL server binaries not found: run 'make test' (it installs them)"; exit 1; }
pgdir=$(mktemp -d /tmp/caudal-pg.XXXXXX)
as_pg=()
if [[ $(id -u) == 0 ]]; then
  chown postgres "$pgdir"
  as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as_pg[@]}" "$PGBIN/initdb" -D "$pgdir/data" -A trust -U caudal -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdir/data" -w -l "$pgdir/server.log" \
  -o "-p $port -k $pgdir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=100" \
  start >/dev/null
stop_pg() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$pgdir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdir"
}
trap stop_pg EXIT
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $pgdir)"
DATABASE_URL="postgres://caudal@127.0.0.1:$port/caudal" "${PYTEST[@]}"
