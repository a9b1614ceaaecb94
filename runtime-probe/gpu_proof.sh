#!/bin/bash
# The GPU proof runs of issue 8 on the real models, as run on the lent device for
# bench/results/probe_*_a1ba8cb_*: Kronos-small and Toto-base (graph vs eager), the same with
# --upstream-syncs, and one sampled configuration of each.
#
# Put this script next to the CUDA probe binary (`probe`, or `probe.gz`: the binary with
# zlib-compressed debug sections is ~68 MB, over the device's 64 MiB transfer limit, and gzips
# to ~25 MB), then run it there with OUT set to a folder; it writes OUT/log.txt and
# OUT/results.tgz (a JSON report and an SVG plot per run). RUNS picks runs (default: the six model
# runs; toy-bad, toy-sync and toy-silent are the test model's deliberate syncs); PROBE_ARGS is added
# to every run (e.g. PROBE_ARGS=--static-check: sources are found from the working directory, the
# script's folder, and its parents, so keep it inside a checkout of the commit the probe was built
# from).
export LD_LIBRARY_PATH=/usr/local/cuda/targets/x86_64-linux/lib:$LD_LIBRARY_PATH
cd "$(dirname "$0")"
[ -x probe ] || { gunzip -c probe.gz > probe && chmod +x probe; }
mkdir -p "$OUT/res"
LOG="$OUT/log.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >> "$LOG" 2>&1
./probe doctor >> "$LOG" 2>&1
run() { # name, probe arguments...
  local name=$1; shift
  echo "=== $name: probe run $* $PROBE_ARGS ($(date -u +%FT%TZ))" >> "$LOG"
  timeout ${T:-170} ./probe run "$@" $PROBE_ARGS --report "$OUT/res/$name.json" --plot "$OUT/res/$name.svg" >> "$LOG" 2>&1
  echo "=== $name: exit $?" >> "$LOG"
  (cd "$OUT" && tar czf results.tgz res)  # after each run: a later timeout loses nothing
}
for r in ${RUNS:-kronos-small toto-base kronos-small-upstream toto-base-upstream kronos-small-s8 toto-base-s8}; do
  case $r in
    kronos-small) run $r --model kronos --preset small ;;
    toto-base) run $r --model toto --preset base ;;
    kronos-small-upstream) run $r --model kronos --preset small --upstream-syncs --repeats 2 ;;
    toto-base-upstream) run $r --model toto --preset base --upstream-syncs --repeats 2 ;;
    kronos-small-s8) run $r --model kronos --preset small --samples 8 --seed 1 ;;
    toto-base-s8) run $r --model toto --preset base --samples 8 --seed 1 ;;
    toy-bad|toy-sync|toy-silent) run $r --model $r ;;
    *) echo "unknown run $r" >> "$LOG" ;;
  esac
done
rm -rf "$OUT/res"
