#!/usr/bin/env bash
# Benchmark: the embedded local models, side by side with their Python peers on the same files:
#   - chat generation with SmolLM2-135M-Instruct Q4_1 (the same GGUF, the same templated prompt,
#     greedy, exactly LOCAL_TOKENS generated), prompt and generated tokens/s at 1 and 2 threads:
#     aae-local (llama-cpp-2 0.1.160) vs llama-cpp-python (target: at least 0.9x);
#   - embeddings with all-MiniLM-L6-v2 (the same model directory), sentences/s over 256 short
#     sentences, batch 32, LOCAL_EMBED_THREADS threads: aae-local (packed BERT) vs sentence-transformers
#     (target: at least 1.0x).
# Each side is its own process (peak RSS recorded); sides alternate order per run; every process
# reports the median of 3 timed repetitions after a warm-up; the result is the median over runs.
#
#   bash bench/local_models.sh
# Env: BENCH_ONLY (all | embed | chat: run one half; the other half's numbers are absent from
#      the JSON), BENCH_RUNS (3), LOCAL_TOKENS (128), LOCAL_EMBED_THREADS (2), AAE_TEST_MODELS_DIR (weights;
#      default ~/.cache/aae-tools/models, fetched when missing), CARGO_TARGET_DIR.
# Installs idempotently into ~/.cache/aae-tools: venv-llama (llama-cpp-python 0.3.36, which builds
# llama.cpp from source: about 15 minutes the first time) and venv-st (sentence-transformers
# 6.2.0 with torch). Writes bench/results/local_models.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS="${BENCH_RUNS:-3}"
ONLY="${BENCH_ONLY:-all}"
case "$ONLY" in all | embed | chat) ;; *) die "BENCH_ONLY must be all, embed or chat, not $ONLY" ;; esac
want() { [ "$ONLY" = all ] || [ "$ONLY" = "$1" ]; }
TOKENS="${LOCAL_TOKENS:-128}"
EMBED_THREADS="${LOCAL_EMBED_THREADS:-2}"
MODELS_DIR="${AAE_TEST_MODELS_DIR:-$TOOLS_DIR/models}"
LLAMA_VENV="$TOOLS_DIR/venv-llama"
ST_VENV="$TOOLS_DIR/venv-st"
LLAMA_CPP_PYTHON_VERSION="0.3.36"
ST_VERSION="6.2.0"
LOCAL_BIN="${CARGO_TARGET_DIR:-$REPO_DIR/target}/release/examples/local_bench"
GGUF="$MODELS_DIR/smollm2-135m-instruct/SmolLM2-135M-Instruct.Q4_1.gguf"

ensure_python_package() { # VENV PACKAGE VERSION MODULE
  if [ -x "$1/bin/python" ] && "$1/bin/python" -c "import $4" 2>/dev/null &&
    [ "$("$1/bin/python" -c "from importlib.metadata import version; print(version('$2'))")" = "$3" ]; then
    return 0
  fi
  log "installing $2 $3 into $1"
  [ -x "$1/bin/python" ] || python3 -m venv "$1"
  "$1/bin/pip" install -q --disable-pip-version-check --no-input "$2==$3" >&2
}

ensure_jq
if [ "${BENCH_SETUP:-1}" = 1 ]; then
  bash "$REPO_DIR/scripts/build-deps.sh"
  if want embed; then ensure_python_package "$ST_VENV" sentence-transformers "$ST_VERSION" sentence_transformers; fi
  if want chat; then ensure_python_package "$LLAMA_VENV" llama-cpp-python "$LLAMA_CPP_PYTHON_VERSION" llama_cpp; fi
  log "building the local models benchmark (release)"
  (cd "$REPO_DIR" && cargo build --release -p aae-local --example local_bench >&2)
fi
[ -x "$LOCAL_BIN" ] || die "missing $LOCAL_BIN (cargo build --release -p aae-local --example local_bench)"
bench_setup

# The same inputs for both sides: the weights (fetched if missing), the prompt, the sentences.
"$LOCAL_BIN" --models-dir "$MODELS_DIR" --print-prompt >"$BENCH_TMP/prompt.txt"
"$LOCAL_BIN" --print-sentences >"$BENCH_TMP/sentences.txt"

run_aae_chat() { # RUN THREADS
  measure "aae-chat-$1-$2" "$LOCAL_BIN" --models-dir "$MODELS_DIR" --only chat --threads "$2" --tokens "$TOKENS"
  jq -c --arg rss "$M_RSS_KIB" '.generation[0] + {peak_rss_kib: ($rss | tonumber)}' "$BENCH_TMP/aae-chat-$1-$2.out"
}
run_peer_chat() { # RUN THREADS
  measure "peer-chat-$1-$2" "$LLAMA_VENV/bin/python" "$BENCH_DIR/local_models_peer.py" llama "$GGUF" \
    "$BENCH_TMP/prompt.txt" "$2" "$TOKENS" 3
  jq -c --arg rss "$M_RSS_KIB" '. + {peak_rss_kib: ($rss | tonumber)}' "$BENCH_TMP/peer-chat-$1-$2.out"
}
run_aae_embed() { # RUN
  measure "aae-embed-$1" env RAYON_NUM_THREADS="$EMBED_THREADS" "$LOCAL_BIN" --models-dir "$MODELS_DIR" \
    --only embed --batch-size 32 --sentences-file "$BENCH_TMP/sentences.txt"
  jq -c --arg rss "$M_RSS_KIB" '.embeddings + {peak_rss_kib: ($rss | tonumber)}' "$BENCH_TMP/aae-embed-$1.out"
}
run_peer_embed() { # RUN
  measure "peer-embed-$1" "$ST_VENV/bin/python" "$BENCH_DIR/local_models_peer.py" embed \
    "$MODELS_DIR/all-minilm-l6-v2" "$BENCH_TMP/sentences.txt" "$EMBED_THREADS" 3
  jq -c --arg rss "$M_RSS_KIB" '. + {peak_rss_kib: ($rss | tonumber)}' "$BENCH_TMP/peer-embed-$1.out"
}

runs_json="[]"
for run in $(seq 1 "$RUNS"); do
  a1=null; p1=null; a2=null; p2=null; ae=null; pe=null
  if [ $((run % 2)) = 1 ]; then
    if want chat; then
      a1="$(run_aae_chat "$run" 1)"; p1="$(run_peer_chat "$run" 1)"
      a2="$(run_aae_chat "$run" 2)"; p2="$(run_peer_chat "$run" 2)"
    fi
    if want embed; then ae="$(run_aae_embed "$run")"; pe="$(run_peer_embed "$run")"; fi
  else
    if want chat; then
      p1="$(run_peer_chat "$run" 1)"; a1="$(run_aae_chat "$run" 1)"
      p2="$(run_peer_chat "$run" 2)"; a2="$(run_aae_chat "$run" 2)"
    fi
    if want embed; then pe="$(run_peer_embed "$run")"; ae="$(run_aae_embed "$run")"; fi
  fi
  log "local run $run: 1 thread aae $a1 peer $p1; 2 threads aae $a2 peer $p2; embed aae $ae peer $pe (load $(loadavg))"
  runs_json="$(jq -c --argjson a1 "$a1" --argjson p1 "$p1" --argjson a2 "$a2" --argjson p2 "$p2" \
    --argjson ae "$ae" --argjson pe "$pe" --arg load "$(loadavg)" \
    '. + [{chat_1: {aae: $a1, peer: $p1}, chat_2: {aae: $a2, peer: $p2}, embed: {aae: $ae, peer: $pe}, loadavg: $load}]' \
    <<<"$runs_json")"
done

jq -n --argjson runs "$runs_json" --arg tokens "$TOKENS" --arg cpu "$(nproc) cores" --arg only "$ONLY" '
  def median: map(select(. != null)) | sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def side(k; s): {
    prompt_tokens_per_s: ([$runs[] | .[k][s].prompt_tokens_per_s] | median),
    generated_tokens_per_s: ([$runs[] | .[k][s].generated_tokens_per_s] | median),
    peak_rss_mib: ([$runs[] | .[k][s].peak_rss_kib] | median | if . == null then null else (. / 1024 | round) end)
  };
  def ratio(a; b): if a == null or b == null then null else (a / b * 100 | round / 100) end;
  {
    benchmark: "local_models",
    unit: "tokens per second, sentences per second (median of runs)",
    generated_tokens: ($tokens | tonumber), machine: $cpu,
    peers: {chat: $runs[0].chat_1.peer.engine?, embed: $runs[0].embed.peer.engine?},
    runs: $runs,
    median: {
      chat_1_thread: {aae: side("chat_1"; "aae"), peer: side("chat_1"; "peer")},
      chat_2_threads: {aae: side("chat_2"; "aae"), peer: side("chat_2"; "peer")},
      embed: {
        aae: ([$runs[].embed.aae.sentences_per_s] | median),
        peer: ([$runs[].embed.peer.sentences_per_s] | median),
        aae_peak_rss_mib: ([$runs[].embed.aae.peak_rss_kib] | median | if . == null then null else (. / 1024 | round) end),
        peer_peak_rss_mib: ([$runs[].embed.peer.peak_rss_kib] | median | if . == null then null else (. / 1024 | round) end)
      }
    }
  }
  | .ratio = {
      generated_1_thread: ratio(.median.chat_1_thread.aae.generated_tokens_per_s; .median.chat_1_thread.peer.generated_tokens_per_s),
      generated_2_threads: ratio(.median.chat_2_threads.aae.generated_tokens_per_s; .median.chat_2_threads.peer.generated_tokens_per_s),
      prompt_1_thread: ratio(.median.chat_1_thread.aae.prompt_tokens_per_s; .median.chat_1_thread.peer.prompt_tokens_per_s),
      prompt_2_threads: ratio(.median.chat_2_threads.aae.prompt_tokens_per_s; .median.chat_2_threads.peer.prompt_tokens_per_s),
      embed: ratio(.median.embed.aae; .median.embed.peer)
    }
  | .target = {generation: 0.9, embed: 1.0}
  | .met = ([.ratio.generated_1_thread, .ratio.generated_2_threads, .ratio.prompt_1_thread, .ratio.prompt_2_threads]
            | map(select(. != null)) | all(. >= 0.9)) and (.ratio.embed == null or .ratio.embed >= 1.0)
  | .measured = $only
' >"$RESULTS_DIR/local_models.json"
log "wrote $RESULTS_DIR/local_models.json"
jq -c '{median, ratio, met}' "$RESULTS_DIR/local_models.json"
