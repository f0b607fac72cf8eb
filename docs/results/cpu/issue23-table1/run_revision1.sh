#!/usr/bin/env bash
# Issue 23's CPU study, third stage: UDEAN at revision 1 (the four departures that five seeds did not
# show to help switched off by default; README, "Sixth session"). Same set-up and results folder as
# run.sh; revision-1 cells live in their own `…_rev1` folders, so the revision-0 cells stay.
#
# Two streams of one worker each, so that the paper-size cell (about 45 minutes on one thread)
# trains beside the quick cells:
#   A: the paper profile learns (UDEAN at paper size on demo-small, 300 steps), then feature-DA only;
#   B: UDEAN, then image-DA only.
# Then seeds 3 and 4 of the three rows, two at a time. Cells resume from their checkpoints: rerun
# this script to go on where it stopped.
#
#   STUDY_CODE=/path/to/a/checkout docs/results/cpu/issue23-table1/run_revision1.sh
set -u
source "$(dirname "$0")/study_setup.sh"
QUICK=(--dataset demo --scale 2x2x2 --setting misaligned --profile quick --set steps_per_epoch=3000
       --executor local --threads 1 --runs-dir "$RUNS")
echo "study code $(git -C "$CODE" rev-parse --short HEAD) start $(date -u +%FT%TZ)"
(
  bench run --methods udean --dataset demo-small --scale 2x2x2 --setting misaligned --profile paper --seed 0 \
    --set epochs=1 --set steps_per_epoch=300 --set val_every=50 --set checkpoint_every=50 --set "lr_patch=(32,32,3)" \
    --executor local --workers 1 --threads 1 --runs-dir "$RUNS"
  bench run --methods udean-feature-da --seed 0,1,2 --workers 1 "${QUICK[@]}"
) &
bench run --methods udean,udean-image-da --seed 0,1,2 --workers 1 "${QUICK[@]}"
wait
bench run --methods udean,udean-image-da,udean-feature-da --seed 3,4 --workers 2 "${QUICK[@]}"
echo "end $(date -u +%FT%TZ)"
