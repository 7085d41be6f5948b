#!/usr/bin/env bash
# Battle at N = 10^2 (50 a team) on 150 evaluation seeds instead of the grid's 5 (thirty-fourth
# update): experiments/cell_seeds.sh's Battle cell, which this names (same defaults, options
# and reports; see there):
#     bash experiments/battle_n100_seeds.sh            # both tiers
#     bash experiments/battle_n100_seeds.sh mixed      # one tier
#     EVAL_N=1000 EVAL_SEEDS=30 bash experiments/battle_n100_seeds.sh  # another N and seed count
exec bash "$(dirname "$0")/cell_seeds.sh" battle "$@"
