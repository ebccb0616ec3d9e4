#!/usr/bin/env bash
# After the test suite: build a small demo business in a scratch database exactly as `make run`
# does, then verify the whole ledger (every balance equals its entries, the ledger sums to zero).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
if [ -n "${DATABASE_URL:-}" ] && [[ "$DATABASE_URL" == postgres* ]]; then
  base="${DATABASE_URL%/*}"
  psql "$base/postgres" -qc "DROP DATABASE IF EXISTS loyalty_smoke" >/dev/null
  psql "$base/postgres" -qc "CREATE DATABASE loyalty_smoke" >/dev/null
  export DATABASE_URL="$base/loyalty_smoke"
else
  tmp=$(mktemp -d)
  export DATABASE_URL="sqlite:///$tmp/smoke.sqlite3"
fi
$PY manage.py migrate --noinput -v0
$PY manage.py loadprogram presets/elita.yaml >/dev/null 2>&1
$PY manage.py loadprogram presets/sakura.yaml >/dev/null 2>&1
$PY manage.py seeddemo --customers 60 >/dev/null
$PY manage.py verifyledger
$PY manage.py makemigrations --check --dry-run >/dev/null
DEBUG=false SECRET_KEY=smoke-check-$(date +%s)-long-enough-random-looking-secret-value \
  DJANGO_SETTINGS_MODULE=config.settings.production ALLOWED_HOSTS=example.com \
  $PY manage.py check --deploy --fail-level WARNING
echo "smoke: demo ledger verified, migrations in step, deploy check clean"
