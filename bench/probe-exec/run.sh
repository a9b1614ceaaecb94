#!/bin/bash
# The GPU proof of `probe exec` (issue 14), for the lent device (see README.md here): BIN (default
# ./.probe-bin) holds probe.gz (or probe) and libprobe_inject.so, and whl/ with the Toto wheels.
# Writes OUT/log.txt and OUT/results.tgz (reports, texts, and the raw traces of the smaller runs).
set -u
BIN=$(cd "${BIN:-.probe-bin}" && pwd)
[ -x "$BIN/probe" ] || { gunzip -c "$BIN/probe.gz" > "$BIN/probe" && chmod +x "$BIN/probe"; }
P="$BIN/probe"
R=$OUT/res
mkdir -p "$R"
LOG=$OUT/log.txt
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$BIN"/whl/*.whl >> "$LOG" 2>&1
export PYTHONPATH=/tmp/site
{ git log -1 --oneline; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; python3 -c "import sys, torch, transformers; print(sys.version.split()[0], torch.__version__, transformers.__version__)"; } >> "$LOG" 2>&1
run() { # name, timeout, command... (ONLY="a b" runs only those names; "overhead" is one too)
  local name=$1 t=$2; shift 2
  want "$name" || return 0
  echo "=== $name: $* ($(date -u +%T))" >> "$LOG"
  timeout "$t" "$@" > "$R/$name.txt" 2>&1
  echo "=== $name: exit $?" >> "$LOG"
  tail -n 60 "$R/$name.txt" >> "$LOG"
  (cd "$OUT" && tar czf results.tgz res)
}
want() { [ -z "${ONLY:-}" ] || [[ " $ONLY " == *" $1 "* ]]; }
D=$(cd "$(dirname "$0")" && pwd)
run capture-item 60 "$P" exec --report "$R/capture-item.json" --trace-dir "$R/trace-capture-item" -- python3 $D/capture_item.py
run catalogue 90 env CATALOGUE_DIST=1 "$P" exec --step __main__:Constructs.step --skip 2 --static-check --report "$R/catalogue.json" -- python3 $D/catalogue.py
want catalogue && python3 $D/check_catalogue.py "$R/catalogue.json" $D/catalogue.py "$R/catalogue-rules.json" >> "$LOG" 2>&1
run catalogue-clean 60 "$P" exec --step __main__:Constructs.step --skip 2 --static-check --report "$R/catalogue-clean.json" -- python3 $D/catalogue_clean.py
run toto 150 "$P" exec --step toto.model.backbone:TotoBackbone.forward --skip 1 --static-check --report "$R/toto.json" -- python3 $D/toto_decode.py
run hf-generate 100 "$P" exec --step transformers.models.llama.modeling_llama:LlamaForCausalLM.forward --skip 1 --static-check --report "$R/hf-generate.json" -- python3 $D/hf_generate.py
run threads 60 "$P" exec --report "$R/threads.json" --output-format concise --trace-dir "$R/trace-threads" -- python3 $D/threads.py
run kineto 60 "$P" exec --report "$R/kineto.json" -- python3 $D/kineto.py
run capture-sarif 40 "$P" exec --output-format sarif -- python3 $D/capture_item.py
TIMEFORMAT=%R
want overhead && for rep in $(seq 1 "${REPS:-3}"); do
  for mode in clean sync; do
    for how in bare probe; do
      if [ $how = bare ]; then cmd=(python3 $D/overhead.py); else cmd=("$P" exec --step __main__:step -- python3 $D/overhead.py); fi
      { time MODE=$mode STEPS=3000 "${cmd[@]}" > "$R/ovh.txt" 2>&1; } 2> "$R/wall.txt"
      echo "overhead rep=$rep mode=$mode how=$how wall_s=$(cat "$R/wall.txt") $(grep '^overhead' "$R/ovh.txt")" >> "$LOG"
    done
  done
done
(cd "$OUT" && tar czf results.tgz res)
