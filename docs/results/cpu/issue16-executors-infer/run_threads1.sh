#!/usr/bin/env bash
cd /tmp/timing
export PYTHONPATH=/tmp/wt16
s=$(date +%s.%N); /work/main/.venv/bin/python -m benchmark.cli run --methods all --dataset demo --scale 2x2x2 --profile quick --runs-dir inline-t1 --threads 1 > inline-t1.log 2>&1; rc=$?; e=$(date +%s.%N)
echo "inline --threads 1 rc=$rc seconds=$(echo "$e - $s" | bc) end $(date -u +%FT%TZ) (other work shared the cores)" >> times.txt
cmp inline-t1/results.csv local/results.csv && echo "inline --threads 1 vs local: results.csv identical" >> times.txt || echo "inline --threads 1 vs local: results.csv differ" >> times.txt
