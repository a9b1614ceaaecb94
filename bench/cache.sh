#!/usr/bin/env bash
# The persistent cache (issue 17), in wall-clock seconds: a whole-project run of a baseline
# binary (before the cache), of this one with --no-cache, cold (empty cache), warm (nothing
# changed), and warm with one file changed (what the pre-commit hook costs on a commit).
#
#   bench/cache.sh BASELINE_BINARY NEW_BINARY TREE [RUNS]
#
# TREE's Python and Rust sources are copied to a scratch directory first (files get changed
# there, never in TREE); every variant runs on the copy, in it, with `.` as the path. Prints a
# markdown table of the median and minimum wall time and the median CPU time (user + sys: it
# holds on a shared machine) of RUNS runs (default 5).
set -euo pipefail
base=$1; new=$2; tree=$3; runs=${4:-5}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/tree"
(cd "$tree" && find . -type f \( -name '*.py' -o -name '*.pyi' -o -name '*.rs' \) -print0 |
  tar --null -T - -cf -) | tar -xf - -C "$scratch/tree"
cd "$scratch/tree"
files=$(find . -type f | wc -l)
mb=$(du -sm . | cut -f1)
# The file changed in the last variant: the largest Python (or Rust) source.
changed=$(find . -type f \( -name '*.py' -o -name '*.rs' \) -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2)

# seconds COMMAND...: "wall cpu" of one run (cpu = user + sys), output discarded.
seconds() {
  /usr/bin/time -f '%e %U %S' -o "$scratch/time" "$@" >/dev/null 2>&1 || true
  tail -1 "$scratch/time" | awk '{printf "%s %.2f\n", $1, $2 + $3}'
}

# stats "SETUP" COMMAND...: median and minimum wall, and median CPU, over $runs runs; SETUP is
# evaluated before each.
stats() {
  local setup=$1; shift
  local times=()
  for i in $(seq "$runs"); do
    eval "$setup"
    times+=("$(seconds "$@")")
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{w[NR]=$1; c[NR]=$2} END {printf "%.2f | %.2f", w[int((NR+1)/2)], w[1]}'
  printf ' | '
  printf '%s\n' "${times[@]}" | awk '{print $2}' | sort -n | awk '{c[NR]=$1} END {printf "%.2f", c[int((NR+1)/2)]}'
}

cache="$scratch/cache"
counter=0
touch_one() { counter=$((counter + 1)); printf '\n# changed %d\n' "$counter" >> "$changed"; }
"$new" --cache-dir "$cache" . >/dev/null 2>&1 || true

echo "Tree: $tree ($files source files, $mb MB), $runs runs each; changed file: $changed"
echo
echo "| variant | wall median s | wall min s | CPU median s |"
echo "| --- | ---: | ---: | ---: |"
echo "| baseline binary | $(stats : "$base" .) |"
echo "| --no-cache | $(stats : "$new" --no-cache .) |"
echo "| cold (empty cache) | $(stats "rm -rf '$cache'" "$new" --cache-dir "$cache" .) |"
"$new" --cache-dir "$cache" . >/dev/null 2>&1 || true
echo "| warm, nothing changed | $(stats : "$new" --cache-dir "$cache" .) |"
echo "| warm, one file changed | $(stats touch_one "$new" --cache-dir "$cache" .) |"
