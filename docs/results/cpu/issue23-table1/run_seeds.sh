#!/usr/bin/env bash
# Issue 23's CPU study, second stage: seeds 3 and 4 where 3 seeds left a comparison undecided (the gap
# between two means under twice the larger seed spread, the issue's rule): the three UDEAN rows of
# Table I, and each departure so left (README, "Fourth session").
# Same code, set-up and results folder as run.sh; cells resume from their checkpoints, so rerun
# this script to go on where it stopped.
#
#   STUDY_CODE=/path/to/a/checkout docs/results/cpu/issue23-table1/run_seeds.sh
set -u
source "$(dirname "$0")/study_setup.sh"
COMMON=(--dataset demo --scale 2x2x2 --setting misaligned --profile quick --set steps_per_epoch=3000
        --executor local --workers 2 --threads 1 --runs-dir "$RUNS")
echo "study code $(git -C "$CODE" rev-parse --short HEAD) start $(date -u +%FT%TZ)"
bench run --methods udean,udean-image-da,udean-feature-da --seed 3,4 "${COMMON[@]}"
for departure in "udean_encoder_init='pytorch'" udean_warmup=0.0 udean_feature_gradient_penalty=0.0 \
                 udean_hr_consistency_skip=False; do
  bench run --methods udean --seed 3,4 "${COMMON[@]}" --set "$departure"
done
echo "end $(date -u +%FT%TZ)"
