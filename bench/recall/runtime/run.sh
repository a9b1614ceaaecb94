#!/bin/bash
# Runtime truth for the recall labels (issue 13 item 8), for the lent GPU: runs each program of this
# folder under `probe exec --step ... --skip 1`, then confirm.py over the reports.
#
# BIN (default ./.probe-bin) holds probe.gz (or probe) and libprobe_inject.so, and whl/recall/ with the
# labelled wheels at corpus.toml's versions plus what the programs need beyond the GPU image
# (README.md here lists them). Writes into OUT: <name>.json (probe exec's report), <name>.cover.json
# (the lines the program executed), <name>.txt (the program's output), log.txt, confirm.txt and
# confirm.json, and results.tgz of all that. ONLY="a b" runs only those programs.
# DEVICE=cpu runs the programs bare on the CPU (no probe; coverage only), to check them anywhere.
set -u
: "${OUT:?set OUT to the results folder}"
mkdir -p "$OUT"
D=$(cd "$(dirname "$0")" && pwd)
LOG=$OUT/log.txt
SITE=${SITE:-/tmp/recall-site}
export PYTHONUNBUFFERED=1 COVER_DIR=$OUT DEVICE=${DEVICE:-cuda}
if [ "$DEVICE" = cpu ]; then
  P=""
else
  BIN=$(cd "${BIN:-.probe-bin}" && pwd)
  [ -x "$BIN/probe" ] || { gunzip -c "$BIN/probe.gz" > "$BIN/probe" && chmod +x "$BIN/probe"; }
  P="$BIN/probe"
  if [ -z "${WHL:-}" ]; then WHL=$BIN/whl/recall; fi
fi
if [ -n "${WHL:-}" ]; then
  rm -rf "$SITE" && mkdir -p "$SITE"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$WHL"/*.whl >> "$LOG" 2>&1 \
    || echo "!!! wheel install failed (see above)" >> "$LOG"
  export PYTHONPATH=$SITE${PYTHONPATH:+:$PYTHONPATH}
  # transformers checks its dependencies' versions at import; if the carried 5.24.0 does not import
  # against this image, fall back to the image's own (confirm.py then reports its labels as of
  # another version, since line numbers differ)
  if ! python3 -c "import transformers" >> "$LOG" 2>&1; then
    echo "!!! the carried transformers does not import here: using the image's (labels: other version)" >> "$LOG"
    rm -rf "$SITE"/transformers "$SITE"/transformers-*.dist-info
  fi
fi
{ echo "=== runtime truth $(date -u +%FT%TZ) DEVICE=$DEVICE"; git -C "$D" log -1 --oneline 2>/dev/null
  [ "$DEVICE" = cpu ] || nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
  python3 -c "import sys, torch, transformers; print('python', sys.version.split()[0], 'torch', torch.__version__, 'transformers', transformers.__version__, transformers.__file__)"
} >> "$LOG" 2>&1
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
run() { # name, timeout seconds, --step spec, then the program's arguments
  local name=$1 t=$2 stepspec=$3; shift 3
  want "$name" || return 0
  local t0=$SECONDS
  echo "=== $name ($(date -u +%T)): step $stepspec" >> "$LOG"
  if [ -z "$P" ]; then
    PROGRAM_DEADLINE_S=$t timeout $((t + 15)) python3 "$D/$name.py" "$@" > "$OUT/$name.txt" 2>&1
  else
    # the program ends itself after $t s (coverage kept, report written); the hard limit comes 15 s later
    PROGRAM_DEADLINE_S=$t timeout $((t + 15)) "$P" exec --step "$stepspec" --skip 1 --report "$OUT/$name.json" -- python3 "$D/$name.py" "$@" \
      > "$OUT/$name.txt" 2>&1
  fi
  local rc=$?
  echo "=== $name: exit $rc ($((SECONDS - t0)) s; probe exec: 0 no sync in steps, 1 syncs found, 2 no verdict, 124 timeout)" >> "$LOG"
  grep -E '^(---|!!!)|Error|error:|done$' "$OUT/$name.txt" | tail -n 40 >> "$LOG"
  (cd "$OUT" && tar czf results.tgz --exclude results.tgz ./*.json ./*.txt 2>/dev/null)
}
# Most labels first. Timeouts sum to 320 s (+15 s each of hard limit) (T_SCALE=2 doubles them); expected total on an H100/H200
# about 2-3 minutes (each program: ~5-10 s of imports, then a few seconds of steps).
T=${T_SCALE:-1}
run diffusers_schedulers $((40 * T)) __main__:step
run hf_generation $((75 * T)) __main__:step
run eagle_posterior $((40 * T)) __main__:step
run torchtune_generate $((30 * T)) __main__:step
run chronos_predict $((35 * T)) __main__:step
run timm_naflex $((30 * T)) __main__:step
run sglang_sampler $((35 * T)) __main__:step
run diffusers_pipeline $((35 * T)) diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion:StableDiffusionPipeline.__call__
run transformers_hostdata $((30 * T)) __main__:step
run transformers_masks $((30 * T)) __main__:step
python3 "$D/confirm.py" "$OUT" --json "$OUT/confirm.json" > "$OUT/confirm.txt" 2>&1
echo "=== confirm.py: exit $?" >> "$LOG"
tail -n 14 "$OUT/confirm.txt" >> "$LOG"
(cd "$OUT" && tar czf results.tgz --exclude results.tgz ./*.json ./*.txt 2>/dev/null)
