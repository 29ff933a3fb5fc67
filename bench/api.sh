#!/usr/bin/env bash
# Benchmark (issue 6): the HTTP API under load, AAE side by side with "the seed's own stack", a
# FastAPI app (benches/fastapi_campaigns/app.py: FastAPI + uvicorn + asyncpg + PyJWT, written for
# the benchmark only) serving the same campaign list from the same PostgreSQL table with the same
# access token, in one run:
#   aae-pg list        GET /api/v1/campaigns?limit=50, AAE on PostgreSQL (`aae serve --no-workers`)
#   fastapi list       GET /api/v1/campaigns?limit=50, uvicorn --workers 2 (the machine's 2 cores)
#   aae-sqlite list    GET /api/v1/campaigns?limit=50, a second AAE on SQLite (no FastAPI peer)
#   aae-pg health      GET /api/v1/health (storage, database, campaigns store, model weights)
#   fastapi health     GET /api/v1/health (SELECT 1 on its pool)
# Data: one registered user with 200 campaigns (~1 KiB brief, 8-entry progress log, 5 agent
# interactions, ~2 KiB final state each) plus 200 campaigns of another user, in a fresh database
# `aae_bench_<random>` (dropped at exit) and in the SQLite server's own file.
# Each target: a warm-up (API_WARMUP s), then `wrk -t2 -c64 -d15s --latency` with a Lua script
# that adds `Authorization: Bearer <token>`; the server's CPU time is the utime+stime of its
# process tree (/proc, before and after the wrk run) and its peak memory the sum of VmHWM over
# that tree (uvicorn: its master, multiprocessing's resource tracker and the workers; reset
# through /proc/PID/clear_refs before each warm-up). wrk runs on the same 2 cores as the
# servers. Targets alternate order run by run; medians over BENCH_RUNS runs (peak RSS: the
# largest). Before measuring, every list is checked (fatal): 200, 50 campaigns, the cursor walks
# all 200 and only 200; and (warnings) AAE and FastAPI answer the same first page, 401 on a bad
# token. The peer selects only the 7 columns it shows; AAE reads whole records (its store's
# list_by_user), JSON columns included.
#
#   bash bench/api.sh
# Env: BENCH_RUNS (3), API_SECONDS (15), API_WARMUP (3), API_CONNECTIONS (64), API_THREADS (2),
#      API_CAMPAIGNS (200 per user), API_FASTAPI_WORKERS (2), API_FASTAPI_POOL (5 connections per
#      worker: 10 in all, AAE's default database.max_connections),
#      AAE_BENCH_DATABASE_URL (postgres://postgres@127.0.0.1:5432/postgres: the server, and a
#      database on it to create the benchmark's database from), CARGO_TARGET_DIR (/work/target-rel),
#      BENCH_SETUP (1: apt-get wrk, sqlite3 and jq when missing, the FastAPI venv, PostgreSQL via
#      scripts/test-servers.sh when it does not answer; 0 skips), BENCH_BUILD (1: cargo build
#      --release -p aae-cli --locked; 0 skips), BENCH_OUT (a file the markdown table is appended to).
# Installs the FastAPI venv idempotently into ~/.cache/aae-tools/fastapi-bench-venv. Every server
# listens on a free port of 127.0.0.1 and is stopped at exit.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

TARGET_DIR="${CARGO_TARGET_DIR:-/work/target-rel}"
AAE_SERVER_BIN="$TARGET_DIR/release/aae"
APP_DIR="$REPO_DIR/benches/fastapi_campaigns"
FASTAPI_VENV="$TOOLS_DIR/fastapi-bench-venv"
ADMIN_URL="${AAE_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
RUNS="${BENCH_RUNS:-3}"
DURATION="${API_SECONDS:-15}"
WARMUP="${API_WARMUP:-3}"
CONNECTIONS="${API_CONNECTIONS:-64}"
THREADS="${API_THREADS:-2}"
CAMPAIGNS="${API_CAMPAIGNS:-200}"
FASTAPI_WORKERS="${API_FASTAPI_WORKERS:-2}"
FASTAPI_POOL="${API_FASTAPI_POOL:-5}"
PAGE=50

# Bounded: every knob is a small positive integer.
check_int() { # NAME VALUE MIN MAX
  [[ "$2" =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] || die "$1 must be an integer from $3 to $4, not '$2'"
}
check_int BENCH_RUNS "$RUNS" 1 9
check_int API_SECONDS "$DURATION" 1 300
check_int API_WARMUP "$WARMUP" 0 60
check_int API_CONNECTIONS "$CONNECTIONS" 1 1024
check_int API_THREADS "$THREADS" 1 16
check_int API_CAMPAIGNS "$CAMPAIGNS" "$((PAGE + 1))" 10000
check_int API_FASTAPI_WORKERS "$FASTAPI_WORKERS" 1 16
check_int API_FASTAPI_POOL "$FASTAPI_POOL" 1 100
[ "$CONNECTIONS" -ge "$THREADS" ] || die "API_CONNECTIONS must be at least API_THREADS"

apt_install() { # COMMAND PACKAGE
  if command -v "$1" >/dev/null; then
    return 0
  fi
  [ "$(id -u)" = 0 ] || die "$1 is missing and only root can apt-get install $2"
  log "installing $2 with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || true
  apt-get install -y -qq --no-install-recommends "$2" >/dev/null </dev/null
}

ensure_fastapi_venv() {
  local requirements="$APP_DIR/requirements.txt"
  if [ -x "$FASTAPI_VENV/bin/uvicorn" ] && "$FASTAPI_VENV/bin/python" - "$requirements" <<'PY' 2>/dev/null; then
import re, sys
from importlib.metadata import version
for line in open(sys.argv[1]):
    m = re.match(r"\s*([A-Za-z0-9_.-]+)(\[[^]]*\])?==(\S+)", line)
    if m and version(m.group(1)) != m.group(3):
        sys.exit(1)
import uvloop, httptools  # noqa: F401  (uvicorn[standard])
PY
    return 0
  fi
  log "installing $(grep -v '^#' "$requirements" | tr '\n' ' ')into $FASTAPI_VENV"
  [ -x "$FASTAPI_VENV/bin/python" ] || python3 -m venv "$FASTAPI_VENV"
  "$FASTAPI_VENV/bin/pip" install -q --disable-pip-version-check --no-input -r "$requirements" >&2
}

pg_answers() { psql "$ADMIN_URL" -Atc 'SELECT 1' >/dev/null 2>&1; }

if [ "${BENCH_SETUP:-1}" = 1 ]; then
  apt_install wrk wrk
  apt_install sqlite3 sqlite3
  apt_install psql postgresql-client
  ensure_jq
  ensure_fastapi_venv
  pg_answers || bash "$REPO_DIR/scripts/test-servers.sh" # PostgreSQL on 127.0.0.1:5432
fi
if [ "${BENCH_BUILD:-1}" = 1 ]; then
  log "building aae (release) into $TARGET_DIR"
  (cd "$REPO_DIR" && CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release -p aae-cli --locked >&2)
fi
for tool in wrk sqlite3 psql jq curl; do
  command -v "$tool" >/dev/null || die "missing $tool (run with BENCH_SETUP=1)"
done
[ -x "$AAE_SERVER_BIN" ] || die "missing $AAE_SERVER_BIN (cargo build --release -p aae-cli --locked, or set CARGO_TARGET_DIR)"
[ -x "$FASTAPI_VENV/bin/uvicorn" ] || die "missing $FASTAPI_VENV (run with BENCH_SETUP=1)"
pg_answers || die "PostgreSQL does not answer at $ADMIN_URL (set AAE_BENCH_DATABASE_URL, or run scripts/test-servers.sh)"

bench_setup
BENCH_DB=""
CLK_TCK="$(getconf CLK_TCK)"

# ------------------------------------------------------------------ processes

# PID and its descendants (uvicorn's workers), one per line.
tree_pids() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2 }
    END {
      keep[root] = 1; print root
      for (round = 0; round < 8; round++)
        for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; print p }
    }'
}

# Clock ticks of user + system time of the tree (fields 14 and 15 of /proc/PID/stat).
tree_ticks() {
  local pid total=0 t
  for pid in $(tree_pids "$1"); do
    t="$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}')" || t=0
    total=$((total + ${t:-0}))
  done
  echo "$total"
}

# Sum of VmHWM (KiB) over the tree.
tree_hwm_kib() {
  local pid total=0 k
  for pid in $(tree_pids "$1"); do
    k="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" || k=0
    total=$((total + ${k:-0}))
  done
  echo "$total"
}

# Resets the peak RSS of every process of the tree to its current RSS.
reset_hwm() {
  local pid
  for pid in $(tree_pids "$1"); do
    echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true
  done
}

# SIGTERM to the tree, SIGKILL to what is left after 10 s.
stop_tree() {
  local pids
  pids="$(tree_pids "$1")"
  # shellcheck disable=SC2086
  kill $pids 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  # shellcheck disable=SC2086
  kill -9 $pids 2>/dev/null || true
}

api_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    stop_tree "$pid"
  done
  cleanup
  if [ -n "$BENCH_DB" ]; then
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" >/dev/null 2>&1 ||
      log "could not drop database $BENCH_DB"
  fi
}
trap api_cleanup EXIT

# Waits up to 60 s for any HTTP answer from URL while PID lives; LOG is shown when it dies.
wait_server() { # URL PID LOG
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null --max-time 2 "$1"; then
      return 0
    fi
    kill -0 "$2" 2>/dev/null || { tail -n 30 "$3" >&2; die "the server of $1 exited"; }
    sleep 0.2
  done
  tail -n 30 "$3" >&2
  die "nothing answers at $1"
}

# The environment without any AAE configuration of the caller's (AAE__*, AAE_CONFIG).
SCRUB=()
while read -r var; do
  case "$var" in AAE__* | AAE_CONFIG) SCRUB+=(-u "$var") ;; esac
done < <(compgen -e)

MODELS_DIR="${AAE_TEST_MODELS_DIR:-$TOOLS_DIR/models}"

# start_aae NAME DATABASE_URL: `aae serve --no-workers` on a free port with its own data dir
# (also its working directory, so no ./aae.toml is read); sets AAE_PID, AAE_URL, AAE_DATA.
start_aae() {
  local port data extra=()
  port="$(free_port)"
  data="$BENCH_TMP/$1-data"
  mkdir -p "$data"
  # No URL (the caller's AAE__* are scrubbed): SQLite in {data_dir}/aae.db.
  if [ -n "$2" ]; then extra+=(AAE__DATABASE__URL="$2"); fi
  # The local model's weights, when present, make /health's model line healthy (a size check).
  if [ -d "$MODELS_DIR" ]; then extra+=(AAE__MODELS__DIR="$MODELS_DIR"); fi
  (cd "$data" && exec env "${SCRUB[@]}" AAE__DATA_DIR="$data" AAE__SERVER__HOST=127.0.0.1 \
    AAE__SERVER__PORT="$port" AAE__SERVER__SHUTDOWN_GRACE_SECS=5 AAE__RATE_LIMITS__ENABLED=false \
    AAE__AUTH__ACCESS_TOKEN_TTL_SECS=7200 AAE__LOG__LEVEL=warn "${extra[@]}" \
    "$AAE_SERVER_BIN" serve --no-workers) >"$BENCH_TMP/$1.log" 2>&1 &
  AAE_PID="$!"
  BENCH_PIDS+=("$AAE_PID")
  AAE_URL="http://127.0.0.1:$port"
  AAE_DATA="$data"
  wait_server "$AAE_URL/api/v1/health" "$AAE_PID" "$BENCH_TMP/$1.log"
  log "$1: aae serve --no-workers at $AAE_URL (pid $AAE_PID)"
}

# start_fastapi DATABASE_URL KEY_FILE: sets FASTAPI_PID and FASTAPI_URL.
start_fastapi() {
  local port
  port="$(free_port)"
  env DATABASE_URL="$1" AAE_JWT_KEY_FILE="$2" PG_POOL_SIZE="$FASTAPI_POOL" PYTHONDONTWRITEBYTECODE=1 \
    "$FASTAPI_VENV/bin/uvicorn" --app-dir "$APP_DIR" app:app --host 127.0.0.1 --port "$port" \
    --workers "$FASTAPI_WORKERS" --loop uvloop --http httptools --no-access-log --log-level warning \
    >"$BENCH_TMP/fastapi.log" 2>&1 &
  FASTAPI_PID="$!"
  BENCH_PIDS+=("$FASTAPI_PID")
  FASTAPI_URL="http://127.0.0.1:$port"
  wait_server "$FASTAPI_URL/api/v1/health" "$FASTAPI_PID" "$BENCH_TMP/fastapi.log"
  # Every worker up: each answers with its own pool; give them a moment past the first answer.
  sleep 1
  log "fastapi: uvicorn --workers $FASTAPI_WORKERS at $FASTAPI_URL (pid $FASTAPI_PID)"
}

# ------------------------------------------------------------------ HTTP helpers

# http METHOD URL [TOKEN] [JSON BODY]: body to $BENCH_TMP/http.json, prints the status.
http() {
  local args=(-sS -o "$BENCH_TMP/http.json" -w '%{http_code}' --max-time 30 -X "$1")
  if [ -n "${3:-}" ]; then args+=(-H "Authorization: Bearer $3"); fi
  if [ -n "${4:-}" ]; then args+=(-H 'Content-Type: application/json' --data-binary "$4"); fi
  curl "${args[@]}" "$2"
}

expect() { # STATUS WHAT: the last answer had STATUS, else die with its body
  [ "$HTTP_STATUS" = "$1" ] || die "$2: HTTP $HTTP_STATUS, expected $1: $(head -c 600 "$BENCH_TMP/http.json")"
}

# sign_up BASE_URL: registers and signs in a fresh account; sets TOKEN and USER_ID.
sign_up() {
  local email password body
  email="bench-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')@example.com"
  password="$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
  body="$(jq -cn --arg e "$email" --arg p "$password" '{email: $e, password: $p}')"
  HTTP_STATUS="$(http POST "$1/api/v1/auth/register" "" "$body")"
  expect 201 "POST $1/api/v1/auth/register"
  HTTP_STATUS="$(http POST "$1/api/v1/auth/login" "" "$body")"
  expect 200 "POST $1/api/v1/auth/login"
  TOKEN="$(jq -er .access_token "$BENCH_TMP/http.json")" || die "no access_token in the login answer"
  HTTP_STATUS="$(http GET "$1/api/v1/auth/profile" "$TOKEN")"
  expect 200 "GET $1/api/v1/auth/profile"
  USER_ID="$(jq -er .id "$BENCH_TMP/http.json")" || die "no id in the profile"
}

wait_file() { # PATH: up to 10 s
  for _ in $(seq 1 50); do
    [ -s "$1" ] && return 0
    sleep 0.2
  done
  die "$1 did not appear"
}

# check_list NAME BASE_URL TOKEN: the first page has 50 campaigns and a cursor; walking the
# cursor yields every one of the user's campaigns once and ends with next_cursor null.
check_list() {
  local url="$2/api/v1/campaigns?limit=$PAGE" cursor="" pages=0 seen=0
  HTTP_STATUS="$(http GET "$url" "$3")"
  expect 200 "$1: GET $url"
  [ "$(jq '.campaigns | length' "$BENCH_TMP/http.json")" = "$PAGE" ] || die "$1: the first page does not hold $PAGE campaigns"
  cp "$BENCH_TMP/http.json" "$BENCH_TMP/first-page-$1.json"
  : >"$BENCH_TMP/ids-$1.txt"
  while [ "$pages" -lt $((CAMPAIGNS / PAGE + 2)) ]; do
    if [ -n "$cursor" ]; then
      HTTP_STATUS="$(curl -sS -o "$BENCH_TMP/http.json" -w '%{http_code}' --max-time 30 -G \
        -H "Authorization: Bearer $3" --data-urlencode "limit=$PAGE" --data-urlencode "cursor=$cursor" "$2/api/v1/campaigns")"
      expect 200 "$1: GET $url&cursor=$cursor"
    fi
    jq -r '.campaigns[].campaign_id' "$BENCH_TMP/http.json" >>"$BENCH_TMP/ids-$1.txt"
    pages=$((pages + 1))
    cursor="$(jq -r '.next_cursor // empty' "$BENCH_TMP/http.json")"
    [ -n "$cursor" ] || break
  done
  seen="$(sort -u "$BENCH_TMP/ids-$1.txt" | wc -l)"
  [ "$seen" = "$CAMPAIGNS" ] && [ "$(wc -l <"$BENCH_TMP/ids-$1.txt")" = "$CAMPAIGNS" ] && [ -z "$cursor" ] ||
    die "$1: walking the cursor gave $(wc -l <"$BENCH_TMP/ids-$1.txt") campaigns ($seen distinct) in $pages pages, expected $CAMPAIGNS"
  HTTP_STATUS="$(http GET "$url" "not-a-token")"
  [ "$HTTP_STATUS" = 401 ] && [ "$(jq -r .error.code "$BENCH_TMP/http.json")" = unauthenticated ] ||
    log "warning: $1 answers HTTP $HTTP_STATUS to a bad token, not 401 unauthenticated"
  log "$1: $PAGE campaigns per page, $CAMPAIGNS in $pages pages by cursor, 401 on a bad token"
}

# ------------------------------------------------------------------ data

# campaign_sql USER_ID SHIFT_SECONDS SEED: INSERTs of API_CAMPAIGNS campaigns for USER_ID, one
# every 47 minutes back from 2026-12-06T05:00Z (+ SHIFT). Plain literals, valid on both engines:
# PostgreSQL casts them to TIMESTAMPTZ and JSONB; SQLite keeps the fixed-width RFC 3339 text and
# the JSON text it stores itself.
campaign_sql() {
  python3 - "$1" "$2" "$3" "$CAMPAIGNS" <<'PY'
import json, random, sys
from datetime import datetime, timedelta, timezone

user_id, shift, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(seed)
base = datetime(2026, 12, 6, 5, 0, 0, tzinfo=timezone.utc) + timedelta(seconds=shift)
STEPS = ["research", "strategy", "copywriting", "creatives", "landing_page", "pdf_report", "review", "publish"]
PRODUCTS = ["Maple & Co's trail mix", "Northwind e-bike", "Aurora sleep app", "Harbour coffee pods",
            "Lumen desk lamp", "Cedar skincare set", "Tundra winter boots", "Pixel kids' tablet"]
AUDIENCES = ["urban commuters 25-40", "new parents", "outdoor enthusiasts", "small-business owners",
             "university students", "remote workers"]
CHANNELS = ["instagram", "facebook", "google_ads", "linkedin", "tiktok", "email", "youtube"]
AGENTS = ["research_agent", "strategy_agent", "copywriter", "creative_director", "web_builder"]

def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

def q(value):
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return repr(value)
    if not isinstance(value, str):
        value = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return "'" + value.replace("'", "''") + "'"

rows = []
for i in range(count):
    created = base - timedelta(minutes=47 * i, microseconds=rng.randrange(1, 1_000_000))
    cid = "campaign_" + created.strftime("%Y%m%d_%H%M%S_%f")
    product = PRODUCTS[i % len(PRODUCTS)]
    name = f"{product} - {['spring', 'summer', 'fall', 'holiday'][i % 4]} launch #{i}"
    roll = rng.random()
    status = "running" if i < 3 else "pending" if roll < 0.05 else "failed" if roll < 0.15 else "completed"
    brief = {
        "name": name, "product": product, "audience": rng.choice(AUDIENCES),
        "goals": ["awareness", "sign-ups", "first purchase"][: rng.randint(1, 3)],
        "budget": rng.choice([5000, 12000, 25000, 60000]), "currency": "CAD",
        "channels": rng.sample(CHANNELS, 3), "tone": rng.choice(["playful", "premium", "friendly", "bold"]),
        "brand_colors": ["#1f6feb", "#f2cc60", "#0d1117"],
        "description": (f"{product} for {rng.choice(AUDIENCES)}: " + "Highlight durability, price and the "
                        "30-day return policy; avoid superlatives; mention the Canadian launch cities. ") * 4,
    }
    done_steps = len(STEPS) if status == "completed" else 0 if status == "pending" else rng.randint(1, len(STEPS) - 1)
    log = []
    for s in range(done_steps):
        log.append({"at": ts(created + timedelta(seconds=40 * (s + 1))), "step": STEPS[s], "status": "completed",
                    "message": f"{STEPS[s]} done", "percent": round(100.0 * (s + 1) / len(STEPS), 1)})
    if status == "running":
        log.append({"at": ts(created + timedelta(seconds=40 * (done_steps + 1))), "step": STEPS[done_steps],
                    "status": "running", "percent": round(100.0 * done_steps / len(STEPS), 1) + 3.5})
    if status == "failed":
        log.append({"at": ts(created + timedelta(seconds=40 * (done_steps + 1))), "step": STEPS[done_steps],
                    "status": "failed", "message": "model provider timed out after 3 attempts",
                    "percent": round(100.0 * done_steps / len(STEPS), 1)})
    interactions = [
        {"agent": a, "model": "gemini-2.5-flash", "input_tokens": rng.randint(800, 6000),
         "output_tokens": rng.randint(200, 2500), "cost": round(rng.uniform(0.001, 0.05), 5),
         "started_at": ts(created + timedelta(seconds=30 * k)), "duration_ms": rng.randint(900, 14000),
         "summary": f"{a} produced its part of the {product} campaign"}
        for k, a in enumerate(AGENTS[: 5 if status == "completed" else max(1, done_steps)])
    ]
    completed_at = execution_time = final_state = None
    urls = [None] * 4
    if status in ("completed", "failed"):
        execution_time = round(rng.uniform(45.0, 900.0), 3)
        completed_at = ts(created + timedelta(seconds=execution_time))
    if status == "completed":
        final_state = {
            "strategy": {"positioning": f"The {product} that fits real life", "pillars": ["value", "trust", "ease"],
                         "budget_split": {c: round(1 / 3, 4) for c in brief["channels"]}},
            "copy": {"headlines": [f"Meet the {product}", f"{product}: made for you", "Try it for 30 days"],
                     "body": ("Built for everyday use, backed by a 30-day return policy and free shipping "
                              "across Canada. ") * 8,
                     "cta": "Shop now"},
            "creatives": [{"key": f"campaigns/{cid}/creatives/{size}.png", "size": size}
                          for size in ["1080x1080", "1080x1920", "1200x628", "300x250", "728x90", "160x600", "320x50"]],
            "website": {"key": f"campaigns/{cid}/website/index.html", "sections": ["hero", "features", "faq"]},
            "report": {"key": f"campaigns/{cid}/pdf/campaign_report.pdf", "pages": 6},
        }
        urls = [f"s3://aae-campaign-outputs/campaigns/{cid}/{p}" for p in
                ["website/index.html", "pdf/campaign_report.pdf", "artifacts/workflow_state.json",
                 "metadata/campaign_metadata.json"]]
    updated = completed_at or ts(created + timedelta(seconds=40 * (done_steps + 1)))
    rows.append("(" + ", ".join([
        q(cid), q(user_id), q(name), q(status), q(ts(created)), q(completed_at), q(execution_time),
        *[q(u) for u in urls], q(brief), q(final_state), q(log if log or status != "pending" else None),
        q(interactions), q(updated)]) + ")")

print("BEGIN;")
for start in range(0, len(rows), 50):
    print("INSERT INTO campaigns (campaign_id, user_id, campaign_name, status, created_at, completed_at, "
          "execution_time, website_url, pdf_url, workflow_state_url, metadata_url, campaign_brief, final_state, "
          "progress_log, agent_interactions, updated_at) VALUES")
    print(",\n".join(rows[start:start + 50]) + ";")
print("COMMIT;")
PY
}

NOISE_USER="$(python3 -c 'import uuid; print(uuid.uuid4())')"

# ------------------------------------------------------------------ measuring

cat >"$BENCH_TMP/auth.lua" <<'LUA'
-- Adds the bearer token (WRK_TOKEN) to every request; prints the results as one JSON line.
local token = os.getenv("WRK_TOKEN") or ""
if token ~= "" then
  wrk.headers["Authorization"] = "Bearer " .. token
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"p50_us":%.0f,"p90_us":%.0f,"p99_us":%.0f,' ..
    '"max_us":%.0f,"mean_us":%.1f,"errors_connect":%.0f,"errors_read":%.0f,"errors_write":%.0f,' ..
    '"non_2xx_3xx":%.0f,"errors_timeout":%.0f}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
LUA

: >"$BENCH_TMP/runs.jsonl"

# measure_target RUN NAME URL SERVER_PID TOKEN: warm-up, then the measured wrk run; appends one
# JSON line to runs.jsonl.
measure_target() {
  local run="$1" name="$2" url="$3" pid="$4" token="$5" before after hwm load out
  kill -0 "$pid" 2>/dev/null || die "$name: the server (pid $pid) is gone"
  reset_hwm "$pid"
  if [ "$WARMUP" -gt 0 ]; then
    WRK_TOKEN="$token" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 10s -s "$BENCH_TMP/auth.lua" "$url" >/dev/null
  fi
  load="$(loadavg)"
  before="$(tree_ticks "$pid")"
  out="$BENCH_TMP/wrk-$name-$run.txt"
  WRK_TOKEN="$token" wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
    -s "$BENCH_TMP/auth.lua" "$url" >"$out"
  after="$(tree_ticks "$pid")"
  hwm="$(tree_hwm_kib "$pid")"
  grep -q '^WRK_JSON ' "$out" || { cat "$out" >&2; die "$name: no result line from wrk"; }
  sed -n 's/^WRK_JSON //p' "$out" | jq -c --arg name "$name" --argjson run "$run" --argjson ticks "$((after - before))" \
    --argjson hz "$CLK_TCK" --argjson hwm "$hwm" --arg load "$load" --arg url "$url" '
    . + {target: $name, run: $run, url: $url, loadavg_before: $load,
         requests_per_s: (.requests / (.duration_us / 1e6)),
         server_cpu_s: ($ticks / $hz), server_cpu_ms_per_request: (if .requests > 0 then $ticks / $hz * 1000 / .requests else null end),
         server_peak_rss_kib: $hwm}' | tee -a "$BENCH_TMP/runs.jsonl" | jq -r '
    "\(.target) run \(.run): \(.requests_per_s | floor) req/s, p50 \(.p50_us / 1000) ms, p99 \(.p99_us / 1000) ms, " +
    "server CPU \(.server_cpu_ms_per_request // 0 | . * 1000 | round / 1000) ms/req, peak RSS \(.server_peak_rss_kib / 1024 | round) MiB, " +
    "non-2xx \(.non_2xx_3xx), errors \(.errors_connect + .errors_read + .errors_write + .errors_timeout), load \(.loadavg_before)"' |
    while read -r line; do log "$line"; done
}

# ------------------------------------------------------------------ set-up

BENCH_DB="aae_bench_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
psql "$ADMIN_URL" -qc "CREATE DATABASE $BENCH_DB" >/dev/null
DB_URL="$(python3 -c 'import sys, urllib.parse as u; p = u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/" + sys.argv[2])))' "$ADMIN_URL" "$BENCH_DB")"
log "database $BENCH_DB; $CAMPAIGNS campaigns per user, page $PAGE; wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s after ${WARMUP}s of warm-up; $RUNS runs (load $(loadavg))"

# AAE on PostgreSQL (its start-up runs the migrations that create `campaigns`).
start_aae aae-pg "$DB_URL"
PG_PID="$AAE_PID"
PG_URL="$AAE_URL"
sign_up "$PG_URL"
PG_TOKEN="$TOKEN"
PG_USER="$USER_ID"
KEY_FILE="$AAE_DATA/secrets/jwt.key"
wait_file "$KEY_FILE"
campaign_sql "$PG_USER" 0 1 >"$BENCH_TMP/pg-user.sql"
campaign_sql "$NOISE_USER" 13 2 >"$BENCH_TMP/pg-noise.sql"
psql "$DB_URL" -q -v ON_ERROR_STOP=1 -f "$BENCH_TMP/pg-user.sql" -f "$BENCH_TMP/pg-noise.sql" >/dev/null
psql "$DB_URL" -qc "ANALYZE campaigns" >/dev/null
log "aae-pg: user $PG_USER, $(psql "$DB_URL" -Atc "SELECT count(*) FROM campaigns") campaigns in $BENCH_DB"

# The FastAPI peer: same database, same signing key, so the same token.
start_fastapi "$DB_URL" "$KEY_FILE"

# AAE on SQLite ({data_dir}/aae.db), its own account and key.
start_aae aae-sqlite ""
SQ_PID="$AAE_PID"
SQ_URL="$AAE_URL"
sign_up "$SQ_URL"
SQ_TOKEN="$TOKEN"
SQ_USER="$USER_ID"
SQ_FILE="$AAE_DATA/aae.db"
wait_file "$SQ_FILE"
campaign_sql "$SQ_USER" 0 1 >"$BENCH_TMP/sqlite-user.sql"
campaign_sql "$NOISE_USER" 13 2 >"$BENCH_TMP/sqlite-noise.sql"
{
  echo ".timeout 10000"
  cat "$BENCH_TMP/sqlite-user.sql" "$BENCH_TMP/sqlite-noise.sql"
} | sqlite3 -bail "$SQ_FILE" >/dev/null
log "aae-sqlite: user $SQ_USER, $(sqlite3 "$SQ_FILE" 'SELECT count(*) FROM campaigns') campaigns in $SQ_FILE"

# ------------------------------------------------------------------ checks

check_list aae-pg "$PG_URL" "$PG_TOKEN"
check_list fastapi "$FASTAPI_URL" "$PG_TOKEN"
check_list aae-sqlite "$SQ_URL" "$SQ_TOKEN"
if ! diff <(jq -S . "$BENCH_TMP/first-page-aae-pg.json") <(jq -S . "$BENCH_TMP/first-page-fastapi.json") >"$BENCH_TMP/first-page.diff"; then
  log "warning: AAE's and FastAPI's first pages differ:"
  head -n 20 "$BENCH_TMP/first-page.diff" >&2
else
  log "AAE (PostgreSQL) and FastAPI answer the same first page"
fi
for target in aae-pg fastapi; do
  if [ "$target" = aae-pg ]; then base="$PG_URL"; else base="$FASTAPI_URL"; fi
  HTTP_STATUS="$(http GET "$base/api/v1/health")"
  log "$target health: HTTP $HTTP_STATUS $(jq -c '{status, unhealthy: [.services[]? | select(.healthy | not) | .service]}' "$BENCH_TMP/http.json" 2>/dev/null)"
done

# ------------------------------------------------------------------ runs

LIST="/api/v1/campaigns?limit=$PAGE"
for run in $(seq 1 "$RUNS"); do
  if [ $((run % 2)) = 1 ]; then
    order=(aae-pg-list fastapi-list aae-sqlite-list aae-pg-health fastapi-health)
  else
    order=(fastapi-list aae-pg-list aae-sqlite-list fastapi-health aae-pg-health)
  fi
  for target in "${order[@]}"; do
    case "$target" in
      aae-pg-list) measure_target "$run" "$target" "$PG_URL$LIST" "$PG_PID" "$PG_TOKEN" ;;
      fastapi-list) measure_target "$run" "$target" "$FASTAPI_URL$LIST" "$FASTAPI_PID" "$PG_TOKEN" ;;
      aae-sqlite-list) measure_target "$run" "$target" "$SQ_URL$LIST" "$SQ_PID" "$SQ_TOKEN" ;;
      aae-pg-health) measure_target "$run" "$target" "$PG_URL/api/v1/health" "$PG_PID" "" ;;
      fastapi-health) measure_target "$run" "$target" "$FASTAPI_URL/api/v1/health" "$FASTAPI_PID" "" ;;
    esac
  done
done

# ------------------------------------------------------------------ report

versions="$("$FASTAPI_VENV/bin/python" -c '
from importlib.metadata import version
print(", ".join(f"{p} {version(p)}" for p in ["fastapi", "uvicorn", "asyncpg", "PyJWT", "uvloop", "httptools"]))')"
report="$BENCH_TMP/report.md"
python3 - "$BENCH_TMP/runs.jsonl" "$(psql "$ADMIN_URL" -Atc 'SHOW server_version')" "$(sqlite3 --version | cut -d' ' -f1)" \
  "$versions" "$(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)" "$(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "$THREADS" "$CONNECTIONS" "$DURATION" "$WARMUP" "$RUNS" "$FASTAPI_WORKERS" "$((FASTAPI_POOL * FASTAPI_WORKERS))" "$(loadavg)" \
  >"$report" <<'PY'
import datetime, json, statistics, sys

(path, pg, sqlite, versions, wrk, commit, threads, conns, duration, warmup, runs, workers, pool, load) = sys.argv[1:]
records = [json.loads(line) for line in open(path)]
names = {
    "aae-pg-list": "AAE, PostgreSQL: GET /api/v1/campaigns?limit=50",
    "fastapi-list": "FastAPI, PostgreSQL: GET /api/v1/campaigns?limit=50",
    "aae-sqlite-list": "AAE, SQLite: GET /api/v1/campaigns?limit=50",
    "aae-pg-health": "AAE: GET /api/v1/health",
    "fastapi-health": "FastAPI: GET /api/v1/health",
}
med = {}
for target in names:
    rs = [r for r in records if r["target"] == target]
    if not rs:
        continue
    m = lambda key: statistics.median(r[key] for r in rs if r[key] is not None)
    med[target] = {
        "rps": m("requests_per_s"), "p50": m("p50_us") / 1000, "p99": m("p99_us") / 1000,
        "cpu": m("server_cpu_ms_per_request"), "rss": max(r["server_peak_rss_kib"] for r in rs) / 1024,
        "bad": sum(r["non_2xx_3xx"] for r in rs),
        "errors": sum(r["errors_connect"] + r["errors_read"] + r["errors_write"] + r["errors_timeout"] for r in rs),
    }
cpu = open("/proc/cpuinfo").read().split("model name")[1].split(":", 1)[1].split("\n", 1)[0].strip()
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
print(f"### HTTP API: AAE vs FastAPI ({now}, commit {commit})")
print()
print(f"wrk -t{threads} -c{conns} -d{duration}s --latency after {warmup} s of warm-up; medians of {runs} runs "
      f"(peak RSS: largest); {cpu}, 2 cores shared by wrk and the servers; load average at the end {load}. "
      f"PostgreSQL {pg}, SQLite {sqlite}, {wrk}; peer: {versions}, uvicorn --workers {workers} --loop uvloop "
      f"--http httptools, asyncpg pools of {pool} connections in all.")
print()
print("| target | requests/s | p50 ms | p99 ms | server CPU ms/request | server peak RSS MiB | non-2xx | socket errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for target, label in names.items():
    if target in med:
        r = med[target]
        print(f"| {label} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['cpu']:.3f} | {r['rss']:.1f} | {r['bad']} | {r['errors']} |")
print()
def ratio(a, b, key, invert=False):
    if a in med and b in med and med[a][key] and med[b][key]:
        x, y = med[a][key], med[b][key]
        return f"{(y / x if invert else x / y):.2f}x"
    return "n/a"
print(f"- List, AAE/FastAPI requests/s: PostgreSQL **{ratio('aae-pg-list', 'fastapi-list', 'rps')}**, "
      f"SQLite **{ratio('aae-sqlite-list', 'fastapi-list', 'rps')}**; "
      f"FastAPI/AAE p99: {ratio('aae-pg-list', 'fastapi-list', 'p99', True)} (PostgreSQL), "
      f"FastAPI/AAE CPU per request: {ratio('aae-pg-list', 'fastapi-list', 'cpu', True)} (PostgreSQL), "
      f"FastAPI/AAE peak RSS: {ratio('aae-pg-list', 'fastapi-list', 'rss', True)}.")
print(f"- Health, AAE/FastAPI requests/s: {ratio('aae-pg-health', 'fastapi-health', 'rps')} "
      "(AAE probes storage, database, campaigns store and model weights; FastAPI runs SELECT 1).")
PY
echo
cat "$report"
if [ -n "${BENCH_OUT:-}" ]; then
  { echo; cat "$report"; } >>"$BENCH_OUT"
  log "appended the table to $BENCH_OUT"
fi
