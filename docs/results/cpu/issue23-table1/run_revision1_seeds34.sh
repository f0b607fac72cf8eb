#!/usr/bin/env bash
# Issue 23's CPU study, fifth stage: seeds 3 and 4 of revision 1's three UDEAN rows, two cells at a
# time (the last stage of run_revision1.sh on its own: that script's earlier stages finished in the
# sixth session, whose store was lost with its machine; their scores are in
# revision1-partial/results.csv). Cells resume from their checkpoints: rerun to go on.
#
#   STUDY_CODE=/path/to/a/checkout docs/results/cpu/issue23-table1/run_revision1_seeds34.sh
set -u
source "$(dirname "$0")/study_setup.sh"
echo "study code $(git -C "$CODE" rev-parse --short HEAD) start $(date -u +%FT%TZ)"
bench run --methods udean,udean-image-da,udean-feature-da --seed 3,4 --dataset demo --scale 2x2x2 \
  --setting misaligned --profile quick --set steps_per_epoch=3000 --executor local --workers 2 --threads 1 \
  --runs-dir "$RUNS"
echo "end $(date -u +%FT%TZ)"
