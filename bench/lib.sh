# shellcheck shell=bash
# Helpers shared by the storage benchmarks (sourced by bench/*.sh; not run on its own).
#
# Everything the benchmarks need is installed idempotently into $AAE_TOOLS_DIR
# (default ~/.cache/aae-tools):
#   bench-venv/   python venv with awscli (the peer), boto3 (presign peer, seeding) and moto
#   bin/s3s-fs    the S3 server both sides talk to (cargo install, ~4.5 min the first time)
#   rclone        Debian package (apt-get), the migration peer
#   venv-litellm/ litellm[proxy] $LITELLM_VERSION, the gateway peer (router.sh, gateway.sh)
# Servers are started on free loopback ports and stopped by the trap each script sets.

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
TOOLS_DIR="${AAE_TOOLS_DIR:-${HOME:-/root}/.cache/aae-tools}"
BENCH_VENV="$TOOLS_DIR/bench-venv"
RESULTS_DIR="$BENCH_DIR/results"
AAE_BIN="$REPO_DIR/target/release/aae"
PRESIGN_BIN="$REPO_DIR/target/release/examples/presign_bench"

AWSCLI_VERSION="1.46.2"
MOTO_VERSION="5.2.5"
S3S_FS_VERSION="0.14.1"
LITELLM_VERSION="${LITELLM_VERSION:-1.106.*}"
LITELLM_VENV="$TOOLS_DIR/venv-litellm"

# Credentials of the local servers (s3s-fs checks SigV4 with them).
BENCH_AK="aaebenchaccesskey"
BENCH_SK="aaebenchsecretkey0123456789"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$TOOLS_DIR" "$RESULTS_DIR"

# ------------------------------------------------------------------ installs (idempotent)

ensure_venv() {
  if [ -x "$BENCH_VENV/bin/aws" ] && "$BENCH_VENV/bin/python" - "$AWSCLI_VERSION" "$MOTO_VERSION" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
ok = version("awscli") == sys.argv[1] and version("moto") == sys.argv[2] and version("boto3")
sys.exit(0 if ok else 1)
PY
    return 0
  fi
  log "installing awscli $AWSCLI_VERSION, boto3 and moto $MOTO_VERSION into $BENCH_VENV"
  [ -x "$BENCH_VENV/bin/python" ] || python3 -m venv "$BENCH_VENV"
  "$BENCH_VENV/bin/pip" install -q --disable-pip-version-check \
    "awscli==$AWSCLI_VERSION" boto3 "moto[server]==$MOTO_VERSION" >&2
}

ensure_litellm() {
  if [ -x "$LITELLM_VENV/bin/litellm" ]; then
    return 0
  fi
  log "installing litellm[proxy] $LITELLM_VERSION into $LITELLM_VENV"
  [ -x "$LITELLM_VENV/bin/python" ] || python3 -m venv "$LITELLM_VENV"
  "$LITELLM_VENV/bin/pip" install -q --disable-pip-version-check --no-input "litellm[proxy]==$LITELLM_VERSION" >&2
}

ensure_s3s_fs() {
  if [ -x "$TOOLS_DIR/bin/s3s-fs" ]; then
    return 0
  fi
  log "installing s3s-fs $S3S_FS_VERSION into $TOOLS_DIR/bin (cargo install, ~4.5 min)"
  # From the repository so its rust-toolchain.toml (1.95) applies; 0.15+ needs a newer rustc.
  (cd "$REPO_DIR" && cargo install s3s-fs --version "=$S3S_FS_VERSION" --features binary --locked \
    --root "$TOOLS_DIR" >&2)
}

ensure_rclone() {
  if command -v rclone >/dev/null; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "rclone is missing and only root can apt-get install it"
  log "installing rclone with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends rclone >/dev/null </dev/null
}

ensure_jq() {
  if command -v jq >/dev/null; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "jq is missing and only root can apt-get install it"
  log "installing jq with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends jq >/dev/null </dev/null
}

build_aae() {
  log "building aae (release) and the presign example"
  (cd "$REPO_DIR" && cargo build --release -p aae-cli -p aae-storage --bin aae --example presign_bench >&2)
}

# ------------------------------------------------------------------ servers and cleanup

BENCH_PIDS=()
BENCH_TMP=""

cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
    rm -rf "$BENCH_TMP"
  fi
}

# Creates $BENCH_TMP (removed on exit) and installs the trap.
bench_setup() {
  BENCH_TMP="$(mktemp -d "${TMPDIR:-/tmp}/aae-bench.XXXXXX")"
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_http() { # URL: waits up to 60 s for any HTTP answer
  local i
  for i in $(seq 1 300); do
    if curl -s -o /dev/null --max-time 2 "$1"; then
      return 0
    fi
    sleep 0.2
  done
  die "nothing answers at $1"
}

# Starts s3s-fs on a free port over directory $1; sets S3S_URL and S3S_DIR.
start_s3s_fs() {
  S3S_DIR="$1"
  mkdir -p "$S3S_DIR"
  local port
  port="$(free_port)"
  "$TOOLS_DIR/bin/s3s-fs" --host 127.0.0.1 --port "$port" --access-key "$BENCH_AK" --secret-key "$BENCH_SK" \
    "$S3S_DIR" >"$BENCH_TMP/s3s-fs-$port.log" 2>&1 &
  BENCH_PIDS+=("$!")
  S3S_URL="http://127.0.0.1:$port"
  wait_http "$S3S_URL/"
  log "s3s-fs $S3S_FS_VERSION at $S3S_URL over $S3S_DIR"
}

# Starts a private moto server on a free port (never the shared one on 5000); sets MOTO_URL.
start_moto() {
  local port
  port="$(free_port)"
  "$BENCH_VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >"$BENCH_TMP/moto-$port.log" 2>&1 &
  BENCH_PIDS+=("$!")
  MOTO_URL="http://127.0.0.1:$port"
  wait_http "$MOTO_URL/moto-api/"
  log "moto $MOTO_VERSION at $MOTO_URL"
}

# ------------------------------------------------------------------ measuring

# measure NAME CMD...: runs CMD under /usr/bin/time -v with stdout to $BENCH_TMP/NAME.out and
# stderr to $BENCH_TMP/NAME.err. Sets M_SECONDS (wall clock, from this shell) and M_RSS_KIB
# (peak RSS of the process). Fails the script when CMD fails.
measure() {
  local name="$1"
  shift
  local started ended status=0
  started="$(date +%s.%N)"
  /usr/bin/time -v -o "$BENCH_TMP/$name.time" "$@" >"$BENCH_TMP/$name.out" 2>"$BENCH_TMP/$name.err" || status=$?
  ended="$(date +%s.%N)"
  if [ "$status" != 0 ]; then
    log "$name failed (exit $status):"
    tail -n 20 "$BENCH_TMP/$name.err" >&2
    tail -n 5 "$BENCH_TMP/$name.out" >&2
    return "$status"
  fi
  M_SECONDS="$(python3 -c "print(f'{$ended - $started:.3f}')")"
  M_RSS_KIB="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$BENCH_TMP/$name.time")"
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
