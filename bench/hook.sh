#!/usr/bin/env bash
# The pre-commit hook's run on one file of a large project with a warm cache (issue 17: "the
# hook on one changed file in vllm 0.33.0 answers in <= 0.3 s wall"), for several binaries,
# interleaved run by run so that the machine's load falls on each alike.
#
#   bench/hook.sh TREE FILE RUNS BINARY...
#
# TREE is a scratch copy (it gets a `.git` directory, so that `--project-context` finds it as
# the project, and the cache at its root; FILE, relative to TREE, gets a comment appended per
# run). Each binary runs `--force-exclude --project-context FILE` in TREE, as the hook does:
# "unchanged" after a warm-up, then "changed" right after a comment line was appended to FILE
# (every summary keeps its shape: the project pass's result is reused), then "new function" right
# after a function was appended (FILE's summary changes: the project pass runs). Prints per binary
# and variant the median and minimum wall seconds and CPU seconds (user+sys).
set -euo pipefail
tree=$1; file=$2; runs=$3; shift 3
cd "$tree"
[ -d .git ] || git init -q .
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
seconds() {
  /usr/bin/time -f '%e %U %S' -o "$scratch/time" "$@" >/dev/null 2>&1 || true
  tail -1 "$scratch/time" | awk '{printf "%s %.3f\n", $1, $2 + $3}'
}
for bin in "$@"; do "$bin" --force-exclude --project-context "$file" >/dev/null 2>&1 || true; done
# Stamps are stored only for files older than the racy window (2 s).
sleep 3
for bin in "$@"; do "$bin" --force-exclude --project-context "$file" >/dev/null 2>&1 || true; done
counter=0
# Each edit is made once and then run by every binary, so that each sees the same file.
run_all() {
  for n in $(seq "$nbins"); do
    echo "$n $1 $(seconds "${bins[$((n - 1))]}" --force-exclude --project-context "$file")" >> "$scratch/all"
  done
}
bins=("$@"); nbins=$#
for i in $(seq "$runs"); do
  run_all unchanged
  counter=$((counter + 1)); printf '# hook bench %d\n' "$counter" >> "$file"
  run_all changed
  counter=$((counter + 1)); printf '\n\ndef _hook_bench_%d():\n    return %d\n' "$counter" "$counter" >> "$file"
  run_all new-function
done
echo "| binary | variant | wall median s | wall min s | CPU median s | CPU min s |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for n in $(seq $#); do
  for variant in unchanged changed new-function; do
    awk -v n="$n" -v v="$variant" '$1 == n && $2 == v {print $3, $4}' "$scratch/all" > "$scratch/sel"
    wall=$(cut -d' ' -f1 "$scratch/sel" | sort -n | awk '{w[NR]=$1} END {printf "%.2f | %.2f", w[int((NR+1)/2)], w[1]}')
    cpu=$(cut -d' ' -f2 "$scratch/sel" | sort -n | awk '{c[NR]=$1} END {printf "%.2f | %.2f", c[int((NR+1)/2)], c[1]}')
    echo "| ${!n} | $variant | $wall | $cpu |"
  done
done
