#!/usr/bin/env bash
# Start the web server and the task worker together; Ctrl-C (or either one stopping) stops both.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

"$VENV/bin/python" manage.py db_worker --no-reload --interval 0.5 &
worker=$!
"$VENV/bin/gunicorn" novisurf_site.wsgi --bind "$HOST:$PORT" --workers 1 --threads 8 \
    --timeout 180 --graceful-timeout 10 --access-logfile - &
web=$!

alive() { kill -0 "$web" 2>/dev/null || kill -0 "$worker" 2>/dev/null; }

stop() {
    trap - INT TERM
    # Ctrl-C in a terminal has already reached both (they share its process group): give them
    # a moment to finish on their own, so that nothing is signalled twice mid-shutdown.
    for _ in $(seq 1 30); do alive || break; sleep 0.1; done
    kill -TERM "$web" "$worker" 2>/dev/null
    wait "$web" "$worker" 2>/dev/null
    [ -n "${watcher:-}" ] && kill "$watcher" 2>/dev/null
    exit 0
}
trap stop INT
trap 'kill -TERM "$web" "$worker" 2>/dev/null; stop' TERM

# If whoever started us (make) is killed on its own, stop too rather than live on orphaned.
if [ -n "${NOVISURF_PARENT_PID:-}" ]; then
    ( while kill -0 "$NOVISURF_PARENT_PID" 2>/dev/null; do sleep 1; done; kill -TERM $$ 2>/dev/null ) &
    watcher=$!
fi

echo "Novisurf is running at http://$HOST:$PORT/ (Ctrl-C stops it)"
# Whichever stops first stops the other.
wait -n "$web" "$worker"
kill -TERM "$web" "$worker" 2>/dev/null
stop
