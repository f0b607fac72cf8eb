#!/usr/bin/env bash
# Issue 23's CPU study: Table I with seeds, Table II, and each UDEAN departure with 3 seeds.
# Quick profile, 3,000 steps, demo, 2x2x2, misaligned; two cells at a time, one thread each.
# Every cell resumes from its checkpoints: rerun this script to go on where it stopped.
#
#   STUDY_CODE=/path/to/a/checkout docs/results/cpu/issue23-table1/run.sh
#
# STUDY_CODE (default: this repository) is the code the cells run: the script runs from that folder
# (python -m puts the working folder first on sys.path, before PYTHONPATH), so that a frozen worktree
# keeps training the same code while the repository moves on.  Until 2026-12-07 06:10 UTC the
# script ran from the repository root, so its cells ran the repository's code of the moment, not
# STUDY_CODE: see README.md here for what that means for the cells finished before.
set -u
source "$(dirname "$0")/study_setup.sh"
COMMON=(--dataset demo --scale 2x2x2 --setting misaligned --profile quick --set steps_per_epoch=3000
        --executor local --workers 2 --threads 1 --runs-dir "$RUNS")
echo "study code $(git -C "$CODE" rev-parse --short HEAD) start $(date -u +%FT%TZ)"
# Table I rows, 3 seeds (the Table I UDEAN row is also the base of the departures below).
bench run --methods udean,udean-image-da,udean-feature-da,supervised,supervised-rigid,supervised-aligned \
  --seed 0,1,2 "${COMMON[@]}"
# The paper profile's networks learn: UDEAN at paper size on demo-small, 300 steps (LR patches 32×32×3,
# as demo-small's 2 mm LR volumes are about 40 voxels wide), validated every 50 steps.
bench run --methods udean --dataset demo-small --scale 2x2x2 --setting misaligned --profile paper --seed 0 \
  --set epochs=1 --set steps_per_epoch=300 --set val_every=50 --set checkpoint_every=50 --set "lr_patch=(32,32,3)" \
  --executor local --workers 2 --threads 1 --runs-dir "$RUNS"
# Table II rows, 1 seed.
bench run --methods tricubic,zero-fill,zssr,cyclegan,dasr,pseudosr --seed 0 "${COMMON[@]}"
# Each departure of UDEAN where the paper is open, switched off (or the earlier skips switched on), 3 seeds.
for departure in udean_warmup=0.0 udean_hr_consistency_skip=False udean_feature_gradient_penalty=0.0 \
                 "udean_encoder_init='pytorch'" udean_down_skip=True global_skip=False; do
  bench run --methods udean --seed 0,1,2 "${COMMON[@]}" --set "$departure"
done
echo "end $(date -u +%FT%TZ)"
