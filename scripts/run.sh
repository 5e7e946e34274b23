#!/usr/bin/env bash
# Start the web server and the task worker together; Ctrl-C (or any exit) stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

"$VENV/bin/python" manage.py db_worker --no-reload --interval 0.5 &
worker=$!
"$VENV/bin/gunicorn" novisurf_site.wsgi --bind "$HOST:$PORT" --workers 1 --threads 8 \
    --timeout 180 --access-logfile - &
web=$!

stop() {
    trap - INT TERM EXIT
    kill -TERM "$web" "$worker" 2>/dev/null || true
    wait "$web" "$worker" 2>/dev/null || true
}
trap stop INT TERM EXIT

echo "Novisurf is running at http://$HOST:$PORT/ (Ctrl-C stops it)"
# Whichever stops first stops the other.
wait -n "$web" "$worker" || true
