#!/bin/sh
# Instructions per request of the app (valgrind, deterministic where CPU time is not):
# bench/decision_path.py run under cachegrind twice, with and without N requests of each kind.
#   bench/instructions.sh [N]      (default 300; needs valgrind, apt-get install valgrind)
set -e
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
N=${1:-300}
count() {  # $1: request kind, $2: how many
  valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null \
    "$PY" bench/decision_path.py --only "$1" --requests "$2" 2>&1 |
    sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d ,
}
base=$(count healthz 0)
for kind in healthz decision config; do
  total=$(count "$kind" "$N")
  echo "$kind $(( (total - base) / N )) instructions per request"
done
