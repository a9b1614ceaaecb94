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
# "unchanged" after a warm-up, then "changed" right after FILE was appended to. Prints per
# binary and variant the median and minimum wall seconds and the median CPU seconds (user+sys).
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
for i in $(seq "$runs"); do
  for n in $(seq $#); do
    bin=${!n}
    echo "$n unchanged $(seconds "$bin" --force-exclude --project-context "$file")" >> "$scratch/all"
    counter=$((counter + 1)); printf '# hook bench %d\n' "$counter" >> "$file"
    echo "$n changed $(seconds "$bin" --force-exclude --project-context "$file")" >> "$scratch/all"
  done
done
echo "| binary | variant | wall median s | wall min s | CPU median s |"
echo "| --- | --- | ---: | ---: | ---: |"
for n in $(seq $#); do
  for variant in unchanged changed; do
    awk -v n="$n" -v v="$variant" '$1 == n && $2 == v {print $3, $4}' "$scratch/all" > "$scratch/sel"
    wall=$(cut -d' ' -f1 "$scratch/sel" | sort -n | awk '{w[NR]=$1} END {printf "%.2f | %.2f", w[int((NR+1)/2)], w[1]}')
    cpu=$(cut -d' ' -f2 "$scratch/sel" | sort -n | awk '{c[NR]=$1} END {printf "%.2f", c[int((NR+1)/2)]}')
    echo "| ${!n} | $variant | $wall | $cpu |"
  done
done
