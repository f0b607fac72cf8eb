#!/usr/bin/env bash
# Issue 23's CPU study, fourth stage: does the paper profile need a start for the LR decoder's paths?
# UDEAN revision 1 (no warm-up) at paper size on demo-small, 300 steps, fell from 19.6 to 14.6 dB in
# validation, its X_{s→t} from mean 0.34 to 0.14 (target LR 0.40); revision 0 (warm-up 0.1) rose from
# 13.5 to 23.0 dB (one seed each; README, "Sixth session"). Three seeds of each at revision 1:
# without the warm-up and with `udean_warmup=0.1`, as two streams of one worker each (a paper-size
# cell took 25 minutes on one thread, two at a time, in the seventh session). Seed 0 without the
# warm-up trains last: it repeats a cell of the sixth session, whose store was lost with its machine
# (on the new machine it did not come out the same: README, "Seventh session"). Cells resume from
# their checkpoints: rerun this script to go on where it stopped.
#
#   STUDY_CODE=/path/to/a/checkout docs/results/cpu/issue23-table1/run_paper_start.sh
set -u
source "$(dirname "$0")/study_setup.sh"
PAPER=(--dataset demo-small --scale 2x2x2 --setting misaligned --profile paper --methods udean
       --set epochs=1 --set steps_per_epoch=300 --set val_every=50 --set checkpoint_every=50 --set "lr_patch=(32,32,3)"
       --executor local --workers 1 --threads 1 --runs-dir "$RUNS")
echo "study code $(git -C "$CODE" rev-parse --short HEAD) start $(date -u +%FT%TZ)"
(
  bench run --seed 1,2 "${PAPER[@]}"
  bench run --seed 0 "${PAPER[@]}"
) &
bench run --seed 0,1,2 "${PAPER[@]}" --set udean_warmup=0.1
wait
echo "end $(date -u +%FT%TZ)"
