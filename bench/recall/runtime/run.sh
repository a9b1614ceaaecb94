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
    timeout "$t" python3 "$D/$name.py" "$@" > "$OUT/$name.txt" 2>&1
  else
    timeout "$t" "$P" exec --step "$stepspec" --skip 1 --report "$OUT/$name.json" -- python3 "$D/$name.py" "$@" \
      > "$OUT/$name.txt" 2>&1
  fi
  local rc=$?
  echo "=== $name: exit $rc ($((SECONDS - t0)) s; probe exec: 0 no sync in steps, 1 syncs found, 2 no verdict, 124 timeout)" >> "$LOG"
  grep -E '^(---|!!!)|Error|error:|done$' "$OUT/$name.txt" | tail -n 40 >> "$LOG"
  (cd "$OUT" && tar czf results.tgz --exclude results.tgz ./*.json ./*.txt 2>/dev/null)
}
# Longest last: the budget may end there. Timeouts sum to 370 s; expected total about 2-4 minutes.
run diffusers_schedulers 45 __main__:step
run eagle_posterior 40 __main__:step
run torchtune_generate 40 __main__:step
run timm_naflex 45 __main__:step
run chronos_predict 45 __main__:step
run sglang_sampler 45 __main__:step
run diffusers_pipeline 50 diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion:StableDiffusionPipeline.__call__
run hf_generation 60 __main__:step
python3 "$D/confirm.py" "$OUT" --json "$OUT/confirm.json" > "$OUT/confirm.txt" 2>&1
echo "=== confirm.py: exit $?" >> "$LOG"
tail -n 14 "$OUT/confirm.txt" >> "$LOG"
(cd "$OUT" && tar czf results.tgz --exclude results.tgz ./*.json ./*.txt 2>/dev/null)
