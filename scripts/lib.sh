# Shared shell helpers for the run scripts and .ci/run: virtual environments,
# Redis and the upstream ARCP server, all on loopback, all stopped on exit.
# Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${RUN_DIR:-"$ROOT/.run"}          # pids, logs, data of servers we start
UPSTREAM_VERSION=${UPSTREAM_VERSION:-2.1.2}
UPSTREAM_VENV=${UPSTREAM_VENV:-"$ROOT/.upstream-venv"}
PY=${PYTHON:-python3}
PID_FILE="$RUN_DIR/pids"  # servers started here; a file, since start_* run in $( ) subshells

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 2; }

# The suite's own environment: the package installed editable with its dev extras.
ensure_venv() {
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    log "creating .venv"
    "$PY" -m venv "$ROOT/.venv" || die "cannot create a virtual environment with $PY"
  fi
  local stamp="$ROOT/.venv/.installed" want
  want=$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    log "installing arcp-conformance into .venv"
    "$ROOT/.venv/bin/pip" install -q --disable-pip-version-check -e "$ROOT[dev]" || die "pip install failed"
    echo "$want" > "$stamp"
  fi
}

# Upstream gets a venv of its own: it pulls FastAPI, OpenAI, OpenTelemetry and more.
ensure_upstream_venv() {
  if [ "$(cat "$UPSTREAM_VENV/.installed" 2>/dev/null)" != "$UPSTREAM_VERSION" ]; then
    log "installing arcp-py==$UPSTREAM_VERSION into $(basename "$UPSTREAM_VENV")"
    "$PY" -m venv "$UPSTREAM_VENV" || die "cannot create the upstream virtual environment"
    "$UPSTREAM_VENV/bin/pip" install -q --disable-pip-version-check "arcp-py==$UPSTREAM_VERSION" \
      || die "pip install arcp-py==$UPSTREAM_VERSION failed"
    echo "$UPSTREAM_VERSION" > "$UPSTREAM_VENV/.installed"
  fi
}

ensure_redis_installed() {
  command -v redis-server >/dev/null 2>&1 && return 0
  log "installing redis-server"
  apt-get update -qq >/dev/null && apt-get install -y -qq redis-server >/dev/null \
    || die "redis-server is missing and apt-get could not install it"
}

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_http URL SECONDS: until URL answers at all.
wait_http() {
  local url=$1 limit=${2:-30} i
  for ((i = 0; i < limit * 5; i++)); do
    "$PY" -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

remember_pid() { mkdir -p "$RUN_DIR"; echo "$1" >> "$PID_FILE"; }

stop_started() {
  [ -f "$PID_FILE" ] || return 0
  local pid pids
  pids=$(cat "$PID_FILE"); rm -f "$PID_FILE"
  for pid in $pids; do kill "$pid" 2>/dev/null; done
  for pid in $pids; do
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.3; done
    kill -9 "$pid" 2>/dev/null
  done
  return 0
}
trap stop_started EXIT

# start_redis NAME -> prints the port. Persistence off, loopback only.
start_redis() {
  local name=$1 port dir
  port=$(free_port); dir="$RUN_DIR/$name"; mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no \
    --dir "$dir" --logfile "$dir/redis.log" --daemonize no >/dev/null 2>&1 &
  remember_pid $!
  for _ in $(seq 50); do
    redis-cli -p "$port" ping 2>/dev/null | grep -q PONG && { echo "$port"; return 0; }
    sleep 0.1
  done
  die "redis did not start (see $dir/redis.log)"
}

# start_upstream NAME MODE [REDIS_PORT] -> prints the base URL.
# Writes the secrets it generated to $RUN_DIR/NAME/secrets.env (mode 600);
# the caller exports them to the suite through environment variables, never argv.
start_upstream() {
  local name=$1 mode=$2 redis_port=${3:-} port dir enabled required
  case "$mode" in
    required) enabled=true required=true ;;
    optional) enabled=true required=false ;;
    disabled) enabled=false required=false ;;
    *) die "unknown DPoP mode: $mode" ;;
  esac
  port=$(free_port); dir="$RUN_DIR/$name"
  rm -rf "$dir"; mkdir -p "$dir/data" "$dir/logs" "$dir/cwd"
  local jwt_secret agent_key admin_password
  jwt_secret=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(48))')
  agent_key=$("$PY" -c 'import secrets; print("ak-" + secrets.token_urlsafe(24))')
  admin_password=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(24))')
  (umask 077; printf 'ARCP_CONFORMANCE_JWT_SECRET=%s\nARCP_CONFORMANCE_AGENT_KEY=%s\n' \
    "$jwt_secret" "$agent_key" > "$dir/secrets.env")
  local -a env=(
    ENVIRONMENT=development TZ=UTC
    ALLOWED_AGENT_TYPES=testing,automation,processing
    JWT_SECRET="$jwt_secret" JWT_ALGORITHM=HS256 JWT_EXPIRE_MINUTES=60
    ADMIN_USERNAME=admin ADMIN_PASSWORD="$admin_password"
    AGENT_KEYS="$agent_key"
    ARCP_TPR=true ARCP_TPR_ENDPOINT_VALIDATION=false
    DPOP_ENABLED=$enabled DPOP_REQUIRED=$required DPOP_ALGORITHMS=EdDSA,ES256
    ARCP_DATA_DIR="$dir/data" ARCP_LOGS_DIR="$dir/logs"
    RATE_LIMIT_RPM=100000 RATE_LIMIT_BURST=1000
    ARCP_HOST=127.0.0.1 ARCP_PORT="$port"
  )
  [ -n "$redis_port" ] && env+=(REDIS_HOST=127.0.0.1 REDIS_PORT="$redis_port" REDIS_DB=0)
  # A clean working folder: upstream reads a stray .env from folders above it.
  (cd "$dir/cwd" && exec env -i PATH="$PATH" HOME="$dir" "${env[@]}" \
    "$UPSTREAM_VENV/bin/uvicorn" arcp.__main__:app --host 127.0.0.1 --port "$port" \
    >"$dir/server.log" 2>&1) &
  remember_pid $!
  wait_http "http://127.0.0.1:$port/health" 60 || { tail -20 "$dir/server.log" >&2; die "upstream ($name) did not start"; }
  echo "http://127.0.0.1:$port"
}

# with_upstream NAME MODE REDIS(yes|no) COMMAND...: start Redis (when yes) and upstream in DPoP
# MODE, run COMMAND from $ROOT with the generated secrets and ARCP_CONFORMANCE_TARGET_URL in its
# environment (never on argv), stop both. Returns COMMAND's exit code.
with_upstream() {
  local name=$1 mode=$2 redis=$3 redis_port="" url status
  shift 3
  if [ "$redis" = yes ]; then redis_port=$(start_redis "redis-$name") || die "redis did not start"; fi
  url=$(start_upstream "upstream-$name" "$mode" "$redis_port") || die "upstream did not start"
  log "upstream arcp-py $UPSTREAM_VERSION at $url (DPoP $mode, Redis: $redis)"
  ( set -a; source "$RUN_DIR/upstream-$name/secrets.env"; ARCP_CONFORMANCE_TARGET_URL=$url; set +a
    cd "$ROOT" && "$@" )
  status=$?
  stop_started
  return $status
}

# suite_against_upstream NAME MODE REDIS(yes|no) [pytest args...]: the suite against upstream.
suite_against_upstream() {
  local name=$1 mode=$2 redis=$3
  shift 3
  with_upstream "$name" "$mode" "$redis" "$ROOT/.venv/bin/pytest" --dpop-mode "$mode" "$@"
}

# The project's own tests render a report in headless Chromium (tests/e2e/test_hostile.py).
ensure_chromium_installed() {
  command -v chromium >/dev/null 2>&1 && return 0
  log "installing chromium"
  apt-get update -qq >/dev/null && apt-get install -y -qq chromium >/dev/null \
    || die "chromium is missing and apt-get could not install it"
}
