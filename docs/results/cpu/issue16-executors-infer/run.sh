#!/usr/bin/env bash
# The demo matrix (make demo's bench run) with inline, then with --executor local --workers 2 --threads 1, one sitting.
set -u
cd /tmp/timing
export PYTHONPATH=/tmp/wt16
PY=/work/main/.venv/bin/python
ARGS="run --methods all --dataset demo --scale 2x2x2 --profile quick"
echo "commit $(git -C /tmp/wt16 rev-parse --short HEAD) nproc $(nproc) start $(date -u +%FT%TZ)" > times.txt
s=$(date +%s.%N); $PY -m benchmark.cli $ARGS --runs-dir inline > inline.log 2>&1; rc=$?; e=$(date +%s.%N)
echo "inline rc=$rc seconds=$(echo "$e - $s" | bc) end $(date -u +%FT%TZ)" >> times.txt
s=$(date +%s.%N); $PY -m benchmark.cli $ARGS --runs-dir local --executor local --workers 2 --threads 1 > local.log 2>&1; rc=$?; e=$(date +%s.%N)
echo "local rc=$rc seconds=$(echo "$e - $s" | bc) end $(date -u +%FT%TZ)" >> times.txt
cmp inline/results.csv local/results.csv && echo "results.csv identical" >> times.txt || echo "results.csv differ" >> times.txt
