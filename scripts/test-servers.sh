#!/usr/bin/env bash
# Installs and starts the local servers that AAE's tests use, idempotently:
#   - moto 5.2.5 (S3, DynamoDB, Cognito, ... stand-in) in a private venv, on 127.0.0.1:$AAE_TEST_MOTO_PORT
#   - dynalite 4.0.0 (a second DynamoDB implementation; npm) on 127.0.0.1:$AAE_TEST_DYNALITE_PORT
#   - schemathesis, and openai + litellm (the gateway's client checks), each in a venv of its own
#   - PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (best effort: warns when they cannot start)
# Safe to run concurrently (flock) and fast when everything already runs. Needs no stdin.
#
# Environment:
#   AAE_TOOLS_DIR        where the venv, logs and pid files live (default: $HOME/.cache/aae-tools)
#   AAE_TEST_MOTO_PORT   moto port (default: 5000)
#   AAE_PYTHON           python used to create the venv (default: python3)
#   AAE_TEST_DYNALITE_PORT  dynalite port (default: 4567; dynalite is best effort: warns without npm)
set -euo pipefail

TOOLS_DIR="${AAE_TOOLS_DIR:-${HOME:-/root}/.cache/aae-tools}"
MOTO_PORT="${AAE_TEST_MOTO_PORT:-5000}"
MOTO_VERSION="5.2.5"
VENV="$TOOLS_DIR/venv"
MOTO_URL="http://127.0.0.1:${MOTO_PORT}"
MOTO_LOG="$TOOLS_DIR/moto.log"
MOTO_PID="$TOOLS_DIR/moto-${MOTO_PORT}.pid"
START_TIMEOUT_S=60
DYNALITE_PORT="${AAE_TEST_DYNALITE_PORT:-4567}"
DYNALITE_VERSION="4.0.0"
DYNALITE_DIR="$TOOLS_DIR/dynalite"
DYNALITE_URL="http://127.0.0.1:${DYNALITE_PORT}"
DYNALITE_LOG="$TOOLS_DIR/dynalite.log"
DYNALITE_PID="$TOOLS_DIR/dynalite-${DYNALITE_PORT}.pid"

log() { printf 'test-servers: %s\n' "$*" >&2; }
warn() { printf 'test-servers: warning: %s\n' "$*" >&2; }
die() { printf 'test-servers: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$TOOLS_DIR"

# One run at a time: test processes (nextest runs one per test) may all call this script at once.
exec 9>"$TOOLS_DIR/test-servers.lock"
flock -w 600 9 || die "timed out waiting for $TOOLS_DIR/test-servers.lock"

# Servers started here outlive this script: they must not hold the lock or any pipe that the
# caller (a test harness, CI) waits on, so every inherited descriptor above 2 is closed first.
close_inherited_fds() {
  local fd
  for fd in /proc/"$BASHPID"/fd/*; do
    fd="${fd##*/}"
    if [ "$fd" -gt 2 ] 2>/dev/null; then
      eval "exec $fd>&-" 2>/dev/null || true
    fi
  done
}

is_root() { [ "$(id -u)" = "0" ]; }

apt_updated=0
apt_install() {
  if ! is_root; then
    warn "not root: cannot apt-get install $*"
    return 1
  fi
  log "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null 2>&1 || warn "apt-get update failed"
    apt_updated=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null </dev/null
}

# ---------------------------------------------------------------- moto (python venv)

moto_answers() { curl -sf -o /dev/null --max-time 2 "$MOTO_URL/moto-api/"; }

venv_ready() {
  [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/moto_server" ] &&
    "$VENV/bin/python" - "$MOTO_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("moto") == sys.argv[1] and version("boto3") else 1)
PY
}

ensure_venv() {
  if venv_ready; then
    return 0
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    local py="${AAE_PYTHON:-python3}"
    command -v "$py" >/dev/null || die "$py not found: cannot create the moto venv"
    log "creating python venv at $VENV"
    "$py" -m venv "$VENV" || die "python venv creation failed (on Debian: apt-get install python3-venv)"
  fi
  log "installing moto[server]==$MOTO_VERSION and boto3 into $VENV (about 30 s)"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "moto[server]==$MOTO_VERSION" boto3 </dev/null ||
    die "pip install of moto[server]==$MOTO_VERSION failed"
  venv_ready || die "moto is not importable from $VENV after install"
}

moto_pid_alive() {
  [ -f "$MOTO_PID" ] && kill -0 "$(cat "$MOTO_PID")" 2>/dev/null
}

start_moto() {
  log "starting moto on $MOTO_URL (log: $MOTO_LOG)"
  # setsid + nohup: the server outlives this script and the test process that ran it.
  (
    close_inherited_fds
    exec setsid nohup "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" </dev/null >>"$MOTO_LOG" 2>&1
  ) &
  echo $! >"$MOTO_PID"
}

ensure_moto() {
  ensure_venv
  if moto_answers; then
    return 0
  fi
  local started=0
  if moto_pid_alive; then
    log "moto (pid $(cat "$MOTO_PID")) is running but not answering yet: waiting"
  else
    start_moto
    started=1
  fi
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until moto_answers; do
    if ! moto_pid_alive; then
      if [ "$started" = 0 ]; then
        # The earlier server went away while we waited (it was stopping): start our own.
        start_moto
        started=1
        continue
      fi
      tail -n 20 "$MOTO_LOG" >&2 || true
      die "moto exited before answering on $MOTO_URL (port taken by something else?); see $MOTO_LOG"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$MOTO_LOG" >&2 || true
      die "moto did not answer on $MOTO_URL within ${START_TIMEOUT_S} s; see $MOTO_LOG"
    fi
    sleep 0.2
  done
  log "moto is up on $MOTO_URL"
}

# ---------------------------------------------------------------- schemathesis (python venv)
# The HTTP API's schema test runs it against the server's own OpenAPI document. Its own venv:
# its dependencies must not move moto's.

SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$TOOLS_DIR/schemathesis-venv"

ensure_schemathesis() {
  if [ -x "$SCHEMATHESIS_VENV/bin/schemathesis" ] &&
    "$SCHEMATHESIS_VENV/bin/python" -c "import sys; from importlib.metadata import version; sys.exit(0 if version('schemathesis') == '$SCHEMATHESIS_VERSION' else 1)" 2>/dev/null; then
    return 0
  fi
  local py="${AAE_PYTHON:-python3}"
  [ -x "$SCHEMATHESIS_VENV/bin/python" ] || "$py" -m venv "$SCHEMATHESIS_VENV" ||
    die "python venv creation failed (on Debian: apt-get install python3-venv)"
  log "installing schemathesis==$SCHEMATHESIS_VERSION into $SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "schemathesis==$SCHEMATHESIS_VERSION" </dev/null || die "pip install of schemathesis failed"
}

# ---------------------------------------------------------------- openai + litellm (python venv)
# The gateway tests run crates/aae-server/tests/api/openai_client.py with the official OpenAI
# client and the LiteLLM SDK (as a client of AAE; the plain SDK, not the proxy) against
# /v1/chat/completions. LiteLLM pins the same 1.106 line as bench/router.sh; it needs openai 2.x.

OPENAI_VERSION=2.54.0
LITELLM_VERSION=1.106.12
OPENAI_VENV="$TOOLS_DIR/openai-venv"

openai_venv_ready() {
  [ -x "$OPENAI_VENV/bin/python" ] &&
    "$OPENAI_VENV/bin/python" - "$OPENAI_VERSION" "$LITELLM_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if version("openai") == sys.argv[1] and version("litellm") == sys.argv[2] else 1)
PY
}

ensure_openai() {
  if openai_venv_ready; then
    return 0
  fi
  local py="${AAE_PYTHON:-python3}"
  [ -x "$OPENAI_VENV/bin/python" ] || "$py" -m venv "$OPENAI_VENV" ||
    die "python venv creation failed (on Debian: apt-get install python3-venv)"
  log "installing openai==$OPENAI_VERSION and litellm==$LITELLM_VERSION into $OPENAI_VENV (about 40 s)"
  "$OPENAI_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
    "openai==$OPENAI_VERSION" "litellm==$LITELLM_VERSION" </dev/null ||
    die "pip install of openai==$OPENAI_VERSION litellm==$LITELLM_VERSION failed"
  openai_venv_ready || die "openai and litellm are not importable from $OPENAI_VENV after install"
}

# ---------------------------------------------------------------- dynalite (npm)

# Any HTTP answer counts (dynalite answers every request, with 400 to a bare GET).
dynalite_answers() { [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$DYNALITE_URL/" || true)" != "000" ]; }

dynalite_installed() {
  [ -x "$DYNALITE_DIR/node_modules/.bin/dynalite" ] &&
    [ "$(node -p "require('$DYNALITE_DIR/node_modules/dynalite/package.json').version" 2>/dev/null)" = "$DYNALITE_VERSION" ]
}

ensure_dynalite() {
  if dynalite_answers; then
    return 0
  fi
  if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    apt_install nodejs npm || { warn "node/npm missing: dynalite not started"; return 0; }
  fi
  if ! dynalite_installed; then
    log "installing dynalite@$DYNALITE_VERSION into $DYNALITE_DIR (npm, a few seconds)"
    mkdir -p "$DYNALITE_DIR"
    npm install --prefix "$DYNALITE_DIR" --no-audit --no-fund --silent "dynalite@$DYNALITE_VERSION" </dev/null >&2 ||
      { warn "npm install dynalite@$DYNALITE_VERSION failed"; return 0; }
  fi
  if [ -f "$DYNALITE_PID" ] && kill -0 "$(cat "$DYNALITE_PID")" 2>/dev/null; then
    log "dynalite (pid $(cat "$DYNALITE_PID")) is running but not answering yet: waiting"
  else
    log "starting dynalite on $DYNALITE_URL (log: $DYNALITE_LOG)"
    (
      close_inherited_fds
      exec setsid nohup "$DYNALITE_DIR/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$DYNALITE_PORT" \
        --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 </dev/null >>"$DYNALITE_LOG" 2>&1
    ) &
    echo $! >"$DYNALITE_PID"
  fi
  local deadline=$((SECONDS + 30))
  until dynalite_answers; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 20 "$DYNALITE_LOG" >&2 || true
      warn "dynalite did not answer on $DYNALITE_URL within 30 s; see $DYNALITE_LOG"
      return 0
    fi
    sleep 0.2
  done
  log "dynalite is up on $DYNALITE_URL"
}

# ---------------------------------------------------------------- postgres

pg_up() { command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }

ensure_postgres() {
  if pg_up; then
    return 0
  fi
  if ! command -v pg_ctlcluster >/dev/null || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
    apt_install postgresql || { warn "postgresql is not installed and could not be installed"; return 0; }
  fi
  local version
  version="$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)"
  if [ -z "$version" ]; then
    warn "no postgresql cluster under /etc/postgresql"
    return 0
  fi
  log "starting postgresql $version/main"
  (close_inherited_fds && exec pg_ctlcluster --skip-systemctl-redirect "$version" main start </dev/null) ||
    { warn "pg_ctlcluster $version main start failed"; return 0; }
  local deadline=$((SECONDS + 30))
  until pg_up; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "postgresql did not answer on 127.0.0.1:5432 within 30 s"
      return 0
    fi
    sleep 0.2
  done
  log "postgresql is up on 127.0.0.1:5432"
}

# ---------------------------------------------------------------- redis

redis_up() { command -v redis-cli >/dev/null && [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

ensure_redis() {
  if redis_up; then
    return 0
  fi
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server || { warn "redis-server is not installed and could not be installed"; return 0; }
  fi
  log "starting redis-server on 127.0.0.1:6379"
  (
    close_inherited_fds
    exec redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no </dev/null >/dev/null
  ) || { warn "redis-server failed to start"; return 0; }
  local deadline=$((SECONDS + 15))
  until redis_up; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      warn "redis did not answer on 127.0.0.1:6379 within 15 s"
      return 0
    fi
    sleep 0.2
  done
  log "redis is up on 127.0.0.1:6379"
}

ensure_moto
ensure_schemathesis
ensure_openai
ensure_dynalite
ensure_postgres
ensure_redis
