#!/usr/bin/env bash
# Issue 25's "same numbers" check: the tiny and the quick (60-step) matrix of every method, and
# bench infer of nibabel's anatomical.nii, run by one commit's code from its own worktree.
#
#   git worktree add --detach /tmp/wt-<commit> <commit>
#   docs/results/cpu/issue25-same-numbers/same_numbers.sh /tmp/wt-<commit> <tag>
#
# Outputs go to /tmp/s25_<tag>/ ({tiny,quick}/results.csv, udean.nii, tricubic.nii); compare two
# tags with `cmp`.  `python -m` puts the working folder first on sys.path, so the script runs from
# the worktree: its code, not this repository's, is what runs.
set -u
WORKTREE="$1"; TAG="$2"
ROOT="$(cd "$(dirname "$0")/../../../.." && pwd)"
PY="$ROOT/.venv/bin/python"
ANAT="$("$PY" -c 'import nibabel, pathlib; print(pathlib.Path(nibabel.__file__).parent / "tests/data/anatomical.nii")')"
MODULE=benchmark.cli  # before the application layer (91be66f); later it is benchmark.app.cli
[ -f "$WORKTREE/benchmark/app/cli.py" ] && MODULE=benchmark.app.cli
OUT=/tmp/s25_$TAG; rm -rf "$OUT"; mkdir -p "$OUT"
cd "$WORKTREE" || exit 1
export BENCH_CACHE=${BENCH_CACHE:-/tmp/c1} OMP_NUM_THREADS=1 PYTHONPATH="$WORKTREE"
MATRIX=(--methods all --dataset demo-small --scale 2x2x2 --setting misaligned,unpaired --threads 1)
start=$(date +%s)
"$PY" -m $MODULE run "${MATRIX[@]}" --profile tiny --runs-dir "$OUT/tiny" > "$OUT/tiny.log" 2>&1
echo "$TAG tiny rc=$? $(( $(date +%s) - start )) s"
start=$(date +%s)
"$PY" -m $MODULE run "${MATRIX[@]}" --profile quick --set steps_per_epoch=60 --set zssr_steps=60 \
  --runs-dir "$OUT/quick" > "$OUT/quick.log" 2>&1
echo "$TAG quick rc=$? $(( $(date +%s) - start )) s"
cell=$(ls -d "$OUT"/quick/demo-small/2x2x2/misaligned/udean/quick/*/seed0 | head -1)
"$PY" -m $MODULE infer --run "$cell" "$ANAT" "$OUT/udean.nii" --device cpu --threads 1 > "$OUT/infer.log" 2>&1
echo "$TAG infer udean rc=$?"
"$PY" -m $MODULE infer --method tricubic --scale 2x2x2 --profile quick "$ANAT" "$OUT/tricubic.nii" \
  --device cpu --threads 1 >> "$OUT/infer.log" 2>&1
echo "$TAG infer tricubic rc=$?"
md5sum "$OUT"/*/results.csv "$OUT"/*.nii
