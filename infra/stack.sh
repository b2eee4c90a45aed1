#!/usr/bin/env bash
# The local Slipway stack: the AWS emulator, a Docker engine, a registry, the
# resources of template.yaml, the API and the runner, all on 127.0.0.1.
#
#   infra/stack.sh up      install what is missing, start everything, deploy the example
#   infra/stack.sh down    stop what `up` or `test` started (by pid)
#   infra/stack.sh test    install what is missing, start the services, run every test
#   infra/stack.sh bench   the benchmarks
#   infra/stack.sh mutants cargo-mutants over core's security rules, with a pass mark
#   infra/stack.sh fuzz    schemathesis over every route, from /openapi.json
#   infra/stack.sh package `sam build` of the Lambda functions, their sizes and cold init
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$ROOT/.slipway
PIDS=$STATE/pids
MOTO_PORT=${SLIPWAY_MOTO_PORT:-4566}
REGISTRY_PORT=${SLIPWAY_REGISTRY_PORT:-5000}
API_PORT=${SLIPWAY_API_PORT:-8780}
GIT_PORT=${SLIPWAY_GIT_PORT:-8781}
EDGE_HTTP_PORT=${SLIPWAY_EDGE_HTTP_PORT:-8088}
EDGE_HTTPS_PORT=${SLIPWAY_EDGE_HTTPS_PORT:-8443}
EDGE_ADMIN_PORT=${SLIPWAY_EDGE_ADMIN_PORT:-2019}
EDGE_ASK_PORT=${SLIPWAY_EDGE_ASK_PORT:-2020}
PREFIX=slipway-local
BASE_IMAGE=slipway/busybox:latest
PY=$ROOT/.venv/bin/python

export AWS_ENDPOINT_URL=http://127.0.0.1:$MOTO_PORT
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=slipway-local AWS_SECRET_ACCESS_KEY=slipway-local
export SLIPWAY_REGISTRY=127.0.0.1:$REGISTRY_PORT
# The registry asks for a login, as any registry a build host pushes to
# would; its password is made once per checkout (see registry()).
export SLIPWAY_REGISTRY_USERNAME=slipway
export SLIPWAY_BASE_IMAGE=$BASE_IMAGE
export CARGO_TERM_COLOR=never
# Apps are served at http://<name>-<id>.localhost:8088 (*.localhost is
# loopback in curl and browsers) and over HTTPS on 8443 with a local CA.
export SLIPWAY_APPS_DOMAIN=localhost SLIPWAY_APPS_URL_SCHEME=http SLIPWAY_APPS_URL_PORT=$EDGE_HTTP_PORT

mkdir -p "$PIDS"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

alive() { [ -f "$PIDS/$1.pid" ] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

start_bg() {
  local name=$1; shift
  nohup "$@" >"$STATE/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

wait_for() {
  local what=$1; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  die "$what did not come up; see $STATE/*.log"
}

deps() {
  local missing=()
  command -v npm >/dev/null || missing+=(nodejs npm)
  for pkg in docker.io docker-registry busybox-static git curl openssl caddy wrk; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]} (apt)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && apt-get install -y -qq "${missing[@]}" >/dev/null; }
  fi
  if [ ! -x "$ROOT/.venv/bin/moto_server" ] || [ ! -x "$ROOT/.venv/bin/cfn-lint" ] \
    || [ ! -x "$ROOT/.venv/bin/waitress-serve" ] || [ ! -x "$ROOT/.venv/bin/st" ] \
    || [ ! -x "$ROOT/.venv/bin/openapi-spec-validator" ] || ! "$PY" -c 'import bcrypt' 2>/dev/null; then
    log "installing moto, waitress, cfn-lint, schemathesis, openapi-spec-validator and bcrypt into .venv (pip)"
    python3 -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install -q 'moto[server,dynamodb,s3,sqs,kms]==5.2.5' waitress==3.0.2 cfn-lint \
      schemathesis==4.32.5 openapi-spec-validator==0.9.0 bcrypt==4.3.0
  fi
}

moto() {
  if curl -s -o /dev/null "$AWS_ENDPOINT_URL"; then return; fi
  log "starting the AWS emulator on 127.0.0.1:$MOTO_PORT"
  start_bg moto "$PY" "$ROOT/infra/aws_emulator.py" --port "$MOTO_PORT" --enforce-iam
  wait_for "the AWS emulator" curl -s -o /dev/null "$AWS_ENDPOINT_URL"
}

# Without the userland proxy a published port nobody listens on refuses at
# once instead of accepting (Docker's proxy accepts for the app); build hosts
# set "userland-proxy": false in daemon.json the same way.
docker_engine() {
  if docker info >/dev/null 2>&1; then
    if pgrep -f 'docker-proxy' >/dev/null 2>&1 || ! pgrep -af dockerd | grep -q 'userland-proxy=false'; then
      log "note: the running Docker engine may use its userland proxy; Slipway expects --userland-proxy=false"
    fi
    return
  fi
  log "starting a Docker engine"
  start_bg dockerd dockerd --host=unix:///var/run/docker.sock --userland-proxy=false
  wait_for "the Docker engine" docker info
}

# The edge: Caddy with only its admin API configured; the runner loads the
# rest (routes, TLS) through that API.
edge() {
  if curl -s -o /dev/null "http://127.0.0.1:$EDGE_ADMIN_PORT/config/"; then return; fi
  log "starting the edge (Caddy) on 127.0.0.1:$EDGE_HTTP_PORT and :$EDGE_HTTPS_PORT"
  mkdir -p "$STATE/caddy"
  printf '{"admin":{"listen":"127.0.0.1:%s"}}\n' "$EDGE_ADMIN_PORT" >"$STATE/caddy/init.json"
  XDG_DATA_HOME=$STATE/caddy XDG_CONFIG_HOME=$STATE/caddy \
    start_bg caddy caddy run --config "$STATE/caddy/init.json"
  wait_for "the edge" curl -s -o /dev/null "http://127.0.0.1:$EDGE_ADMIN_PORT/config/"
}

# What a runner needs to configure the local edge.
edge_vars() {
  echo "SLIPWAY_EDGE_ADMIN=127.0.0.1:$EDGE_ADMIN_PORT"
  echo "SLIPWAY_EDGE_HTTP=127.0.0.1:$EDGE_HTTP_PORT"
  echo "SLIPWAY_EDGE_HTTPS=127.0.0.1:$EDGE_HTTPS_PORT"
  echo "SLIPWAY_EDGE_ASK=127.0.0.1:$EDGE_ASK_PORT"
  echo "SLIPWAY_EDGE_TLS=internal"
  echo "SLIPWAY_EDGE_REDIRECT_HTTP=false"
}

# The registry's password, made once: exported for the runners, the API and
# the tests.
registry_password() {
  if [ ! -s "$STATE/registry.password" ]; then
    (umask 077 && openssl rand -hex 16 >"$STATE/registry.password")
  fi
  SLIPWAY_REGISTRY_PASSWORD=$(cat "$STATE/registry.password")
  export SLIPWAY_REGISTRY_PASSWORD
}

registry_answers() {
  curl -sf -u "$SLIPWAY_REGISTRY_USERNAME:$SLIPWAY_REGISTRY_PASSWORD" "http://$SLIPWAY_REGISTRY/v2/" >/dev/null \
    && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$SLIPWAY_REGISTRY/v2/")" = 401 ]
}

registry() {
  registry_password
  if registry_answers; then return; fi
  # One started before the registry asked for a login.
  stop registry
  log "starting a registry on $SLIPWAY_REGISTRY (login $SLIPWAY_REGISTRY_USERNAME)"
  mkdir -p "$STATE/registry"
  # bcrypt at a low cost: the registry checks the password on every request.
  "$PY" -c 'import bcrypt, sys; print(sys.argv[1] + ":" + bcrypt.hashpw(sys.argv[2].encode(), bcrypt.gensalt(5)).decode())' \
    "$SLIPWAY_REGISTRY_USERNAME" "$SLIPWAY_REGISTRY_PASSWORD" >"$STATE/registry.htpasswd"
  cat >"$STATE/registry.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry
  delete:
    enabled: true
http:
  addr: $SLIPWAY_REGISTRY
auth:
  htpasswd:
    realm: slipway
    path: $STATE/registry.htpasswd
EOF
  start_bg registry docker-registry serve "$STATE/registry.yml"
  wait_for "the registry" registry_answers
}

# No image can be pulled here: the base image is made from Debian's busybox-static.
base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
  log "importing $BASE_IMAGE from busybox-static"
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc" "$rootfs/www"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$rootfs/bin/$applet"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$rootfs/etc/passwd"
  echo 'nobody:x:65534:65534:nobody:/:/bin/false' >>"$rootfs/etc/passwd"
  echo 'root:x:0:' >"$rootfs/etc/group"
  tar -C "$rootfs" -c . | docker import --change 'CMD ["sh"]' --change 'ENV PATH=/bin' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

services() {
  deps
  moto
  docker_engine
  registry
  base_image
}

# The dashboard's assets, which the API's binaries embed.
web() {
  if [ ! -d "$ROOT/web/node_modules" ] || [ "$ROOT/web/package-lock.json" -nt "$ROOT/web/node_modules" ]; then
    log "installing the dashboard's packages (npm ci)"
    (cd "$ROOT/web" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  log "building the dashboard (tsc, esbuild)"
  (cd "$ROOT/web" && npx tsc --noEmit -p . && node build.mjs)
}

build() {
  web
  log "building (cargo build --workspace --bins)"
  (cd "$ROOT" && cargo build --workspace --bins --quiet)
}

# Prints the resources of template.yaml for PREFIX as shell assignments,
# with the file of its functions' IAM users' keys (the emulator enforces
# their policies; see infra/aws_emulator.py).
provision() {
  local principals=$STATE/$1.principals.json
  "$PY" "$ROOT/infra/provision.py" --template "$ROOT/template.yaml" --prefix "$1" --principals "$principals" \
    | "$PY" -c '
import json, sys
print("SLIPWAY_LOCAL_PRINCIPALS=" + sys.argv[1])
r = json.load(sys.stdin)
print("SLIPWAY_TABLE=" + r["tables"]["Table"])
print("SLIPWAY_QUEUE_URL=" + r["queues"]["JobQueue"])
print("SLIPWAY_PUSH_QUEUE_URL=" + r["queues"]["PushQueue"])
print("SLIPWAY_DLQ_URL=" + r["queues"]["JobDeadLetterQueue"])
print("SLIPWAY_PUSH_DLQ_URL=" + r["queues"]["PushDeadLetterQueue"])
print("SLIPWAY_BUCKET=" + r["buckets"]["Bucket"])
print("SLIPWAY_KMS_KEY_ID=" + r["keys"]["SealKey"])' "$principals"
}

# The credentials of one of template.yaml's principals (a function's or
# RunnerPolicy's logical id), as `env` arguments.
principal() {
  "$PY" -c '
import json, sys
key = json.load(open(sys.argv[1]))[sys.argv[2]]
print("AWS_ACCESS_KEY_ID=" + key["accessKeyId"], "AWS_SECRET_ACCESS_KEY=" + key["secretAccessKey"])' \
    "$SLIPWAY_LOCAL_PRINCIPALS" "$1"
}

api_answers() { curl -s -o /dev/null "http://127.0.0.1:$API_PORT/apps"; }

stop() {
  local name=$1
  if alive "$name"; then
    kill "$(cat "$PIDS/$name.pid")" 2>/dev/null || true
    for _ in $(seq 1 100); do alive "$name" || break; sleep 0.1; done
  fi
  rm -f "$PIDS/$name.pid"
}

# The bundled example, as a repo served over HTTP on this machine.
example_repo() {
  local bare=$STATE/git/hello.git work=$STATE/git-work/hello
  if [ ! -d "$bare" ]; then
    git init -q --bare -b main "$bare"
  fi
  rm -rf "$work"
  mkdir -p "$work"
  cp -r "$ROOT/examples/hello/." "$work/"
  (
    cd "$work"
    git init -q -b main
    git add -A
    git -c user.name=slipway -c user.email=slipway@localhost commit -q -m "Example app"
    git push -q -f "$bare" main
  )
  if ! alive git || ! curl -s -o /dev/null "http://127.0.0.1:$GIT_PORT/hello.git/info/refs?service=git-upload-pack"; then
    stop git
    start_bg git "$PY" "$ROOT/infra/git_http.py" --root "$STATE/git" --port "$GIT_PORT"
    wait_for "the example's git server" curl -sf -o /dev/null "http://127.0.0.1:$GIT_PORT/hello.git/info/refs?service=git-upload-pack"
  fi
}

json_field() { "$PY" -c "import json,sys; print(json.load(sys.stdin)$1)"; }

up() {
  services
  build
  log "creating the resources of template.yaml (prefix $PREFIX)"
  provision "$PREFIX" >"$STATE/resources.env"
  set -a
  # shellcheck disable=SC1091
  . "$STATE/resources.env"
  set +a
  stop api
  stop runner
  log "starting local-api on 127.0.0.1:$API_PORT"
  SLIPWAY_LISTEN=127.0.0.1:$API_PORT SLIPWAY_ALLOW_LOOPBACK_REPOS=true \
    start_bg api "$ROOT/target/debug/local-api"
  wait_for "local-api" api_answers
  edge
  log "starting slipway-runner"
  # shellcheck disable=SC2046
  start_bg runner env $(edge_vars) $(principal RunnerPolicy) SLIPWAY_RUNNER_ID=local-runner SLIPWAY_WORK_DIR="$STATE/work" \
    "$ROOT/target/debug/slipway-runner"
  local token=""
  if [ -f "$STATE/local.env" ]; then
    token=$(sed -n 's/^SLIPWAY_TOKEN=//p' "$STATE/local.env")
  fi
  if [ -z "$token" ] || [ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:$API_PORT/apps")" != 200 ]; then
    log "minting an API token for owner 'local'"
    token=$("$ROOT/target/debug/slipway-admin" mint-token local)
  fi
  {
    echo "SLIPWAY_API=http://127.0.0.1:$API_PORT"
    echo "SLIPWAY_TOKEN=$token"
  } >"$STATE/local.env"
  chmod 600 "$STATE/local.env"

  example_repo
  log "deploying the example app from http://127.0.0.1:$GIT_PORT/hello.git"
  local answer deployment status="" url=""
  answer=$(curl -s -X POST "http://127.0.0.1:$API_PORT/deploy" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' \
    -d "{\"name\":\"hello\",\"repo\":\"http://127.0.0.1:$GIT_PORT/hello.git\",\"port\":8080}")
  deployment=$(echo "$answer" | json_field '["deploymentId"]') || die "the deploy was refused: $answer"
  for _ in $(seq 1 240); do
    answer=$(curl -s "http://127.0.0.1:$API_PORT/deployments/$deployment" -H "Authorization: Bearer $token")
    status=$(echo "$answer" | json_field '["status"]')
    case "$status" in running|failed|cancelled|superseded) break ;; esac
    sleep 0.5
  done
  [ "$status" = running ] || die "the example app ended $status: $answer (see .slipway/runner.log)"
  answer=$(curl -s "http://127.0.0.1:$API_PORT/apps/$(echo "$answer" | json_field '["appId"]')" -H "Authorization: Bearer $token")
  url=$(echo "$answer" | json_field '["url"]')
  local host
  host=$(echo "$answer" | json_field '["hostname"]')
  # The edge's local CA, for HTTPS (its root appears once the runner has
  # configured the edge).
  wait_for "the edge's local CA" test -s "$STATE/caddy/caddy/pki/authorities/local/root.crt"
  cp "$STATE/caddy/caddy/pki/authorities/local/root.crt" "$STATE/ca.crt"
  cat <<EOF

Slipway is up. The example app is live at $url

  Dashboard  http://127.0.0.1:$API_PORT/#token=$token
             (signs you in as 'local'; the token stays in that browser tab)
  (try: curl $url
   or over HTTPS: curl --cacert .slipway/ca.crt https://$host:$EDGE_HTTPS_PORT
   its build log: curl -H "Authorization: Bearer \$SLIPWAY_TOKEN" \$SLIPWAY_API/deployments/$deployment/logs)
  Its address stays the same across deploys: every app gets its own
  hostname under *.localhost, served by the edge (Caddy) on port $EDGE_HTTP_PORT.
  API        http://127.0.0.1:$API_PORT   (token in .slipway/local.env)
  registry   $SLIPWAY_REGISTRY
  git        http://127.0.0.1:$GIT_PORT/   (serves .slipway/git/*.git)
  logs       .slipway/*.log          stop with: make down

Deploy your own app: a Git repo with a Dockerfile. Serve it from this machine
(no internet needed) by putting a bare copy next to the example:

  git clone --bare /path/to/your/repo .slipway/git/myapp.git
  . .slipway/local.env
  curl -s -X POST "\$SLIPWAY_API/deploy" \\
    -H "Authorization: Bearer \$SLIPWAY_TOKEN" -H 'Content-Type: application/json' \\
    -d '{"name":"myapp","repo":"http://127.0.0.1:$GIT_PORT/myapp.git","branch":"main","port":8080}'

  (or any https:// repo the runner can reach, with "repoToken" for a private one)

  The answer's "url" (http://myapp-<id>.localhost:$EDGE_HTTP_PORT) is the app's for
  good: every deploy goes live there. Add "domain":"shop.example.test" and
  the edge routes it too: curl -H 'Host: shop.example.test' http://127.0.0.1:$EDGE_HTTP_PORT

  curl -s "\$SLIPWAY_API/apps" -H "Authorization: Bearer \$SLIPWAY_TOKEN"

Or, without Git, upload a directory with a Dockerfile (it reads .slipway/local.env):

  target/debug/slipway up examples/hello --app hello-upload --create --port 8080

Push-to-deploy: each app's webhook (url + secret, in the POST /deploy answer)
goes into GitHub -> Settings -> Webhooks; see README.md.
EOF
}

down() {
  local stopping=()
  for pidfile in "$PIDS"/*.pid; do
    [ -e "$pidfile" ] || continue
    local pid name
    pid=$(cat "$pidfile")
    name=$(basename "$pidfile" .pid)
    if kill -0 "$pid" 2>/dev/null; then
      log "stopping $name ($pid)"
      kill "$pid" 2>/dev/null || true
      stopping+=("$pid")
    fi
    rm -f "$pidfile"
  done
  # Wait for them to exit (the Docker engine takes a while), so a `make up`
  # right after does not race the old processes for their sockets.
  for pid in "${stopping[@]}"; do
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
  done
}

test_all() {
  services
  if ! command -v chromium >/dev/null; then
    log "installing chromium (apt) for the dashboard's browser tests"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
  fi
  log "cfn-lint template.yaml infra/runner-fleet.yaml"
  "$ROOT/.venv/bin/cfn-lint" "$ROOT/template.yaml" "$ROOT/infra/runner-fleet.yaml"
  build
  log "cargo test --workspace"
  export SLIPWAY_ROOT=$ROOT SLIPWAY_PYTHON=$PY SLIPWAY_BIN_DIR=$ROOT/target/debug
  (cd "$ROOT" && cargo test --workspace -- --test-threads 4)
  log "openapi-spec-validator openapi.json"
  "$ROOT/.venv/bin/openapi-spec-validator" "$ROOT/openapi.json"
  fuzz
  mutants
}

# Schemathesis over every route of a local-api of its own (own resources,
# own owner, no runner: the jobs it queues are never built).
fuzz() {
  local bin=$ROOT/target/debug port=8793
  provision "slipway-fuzz-$(date +%s)" >"$STATE/fuzz-resources.env"
  stop fuzz-api
  (
    set -a
    # shellcheck disable=SC1091
    . "$STATE/fuzz-resources.env"
    set +a
    SLIPWAY_LISTEN=127.0.0.1:$port RUST_LOG=warn start_bg fuzz-api "$bin/local-api"
    wait_for "the fuzzed API" curl -s -o /dev/null "http://127.0.0.1:$port/openapi.json"
    log "schemathesis over every route (http://127.0.0.1:$port/openapi.json)"
    SLIPWAY_API=http://127.0.0.1:$port SLIPWAY_TOKEN=$("$bin/slipway-admin" mint-token fuzz) \
      FUZZ_DIR=$STATE/fuzz "$PY" "$ROOT/infra/fuzz.py"
  ) || { stop fuzz-api; exit 1; }
  stop fuzz-api
}

# The files of core that hold a security rule; their unit tests must catch
# at least MUTANTS_PASS percent of the mutants cargo-mutants makes of them.
MUTANT_FILES=(
  core/src/archive.rs core/src/fields.rs core/src/github.rs core/src/redact.rs
  core/src/status.rs core/src/dockerignore/mod.rs core/src/hostnames.rs
  core/src/base_images.rs core/src/config_patch.rs core/src/registry_login.rs
  core/src/fleet.rs core/src/model/mod.rs core/src/deploy_request.rs core/src/watch_paths.rs
  core/src/upload.rs
)
MUTANTS_PASS=95
MUTANTS_VERSION=27.1.0

mutants() {
  if ! cargo mutants --version 2>/dev/null | grep -q "$MUTANTS_VERSION"; then
    log "installing cargo-mutants $MUTANTS_VERSION"
    cargo install cargo-mutants --locked --version "$MUTANTS_VERSION" --quiet
  fi
  local files=() f
  for f in "${MUTANT_FILES[@]}"; do files+=(--file "$f"); done
  log "cargo mutants over ${#MUTANT_FILES[@]} files of core (unit tests only)"
  # It exits non-zero when a mutant is missed; the pass mark decides here.
  # Without core's AWS parts, each mutant rebuilds a far smaller crate.
  (cd "$ROOT" && cargo mutants --package slipway-core "${files[@]}" --no-default-features \
    --test-tool cargo --cargo-test-arg=--lib --jobs 2 \
    --output "$ROOT/target" --no-shuffle --colors never) || true
  "$PY" - "$ROOT/target/mutants.out/outcomes.json" "$MUTANTS_PASS" <<'PY'
import json, sys
outcomes = json.load(open(sys.argv[1]))
count = {}
for o in outcomes["outcomes"]:
    if o["scenario"] == "Baseline":
        if o["summary"] != "Success":
            sys.exit("cargo mutants: the unmutated tests fail")
        continue
    count[o["summary"]] = count.get(o["summary"], 0) + 1
caught = count.get("CaughtMutant", 0) + count.get("Timeout", 0)
missed = count.get("MissedMutant", 0)
viable = caught + missed
score = 100.0 * caught / viable if viable else 100.0
print(f"==> cargo mutants: {caught} of {viable} viable mutants caught ({score:.1f} %), "
      f"{count.get('Unviable', 0)} unviable; the missed are in target/mutants.out/missed.txt")
if score < float(sys.argv[2]):
    sys.exit(f"cargo mutants: {score:.1f} % caught is under the pass mark of {sys.argv[2]} %")
PY
}

bench() {
  services
  # What ships is built for release (cargo lambda builds release too).
  log "building for release (cargo build --release --workspace --bins)"
  (cd "$ROOT" && cargo build --release --workspace --bins --quiet)
  local bin=$ROOT/target/release
  # A fresh set of resources each run: the emulator slows down as a table
  # grows (its transactions copy the table), so old runs would skew new ones.
  local prefix=slipway-bench-$(date +%s) port=8790
  provision "$prefix" >"$STATE/bench-resources.env"
  set -a
  # shellcheck disable=SC1091
  . "$STATE/bench-resources.env"
  set +a
  stop bench-api
  stop bench-runner
  SLIPWAY_LISTEN=127.0.0.1:$port SLIPWAY_ALLOW_LOOPBACK_REPOS=true start_bg bench-api "$bin/local-api"
  wait_for "the bench API" curl -s -o /dev/null "http://127.0.0.1:$port/apps"
  # The bench's own edge, on ports of its own, next to the local stack's.
  stop bench-caddy
  mkdir -p "$STATE/bench-caddy"
  printf '{"admin":{"listen":"127.0.0.1:2039"}}\n' >"$STATE/bench-caddy/init.json"
  XDG_DATA_HOME=$STATE/bench-caddy XDG_CONFIG_HOME=$STATE/bench-caddy \
    start_bg bench-caddy caddy run --config "$STATE/bench-caddy/init.json"
  wait_for "the bench edge" curl -s -o /dev/null "http://127.0.0.1:2039/config/"
  # shellcheck disable=SC2046
  SLIPWAY_EDGE_ADMIN=127.0.0.1:2039 SLIPWAY_EDGE_HTTP=127.0.0.1:8098 SLIPWAY_EDGE_HTTPS=127.0.0.1:8453 \
    SLIPWAY_EDGE_ASK=127.0.0.1:2040 SLIPWAY_EDGE_TLS=internal SLIPWAY_EDGE_REDIRECT_HTTP=false \
    SLIPWAY_RUNNER_ID=bench-runner SLIPWAY_WORK_DIR=$STATE/bench-work start_bg bench-runner \
    env $(principal RunnerPolicy) "$bin/slipway-runner"
  mkdir -p "$STATE/bench-git"
  stop bench-git
  start_bg bench-git "$PY" "$ROOT/infra/git_http.py" --root "$STATE/bench-git" --port 8791
  wait_for "the bench git server" curl -s -o /dev/null "http://127.0.0.1:8791/"
  log "benchmarking (${BENCH_RUNS:-3} runs; the slow layer sleeps ${BENCH_SLOW_SECONDS:-10} s)"
  # The runner is stopped before the webhook part: in production builds run
  # on other hosts, not next to the API and the emulator on these 2 cores.
  SLIPWAY_API=http://127.0.0.1:$port SLIPWAY_TOKEN=$("$bin/slipway-admin" mint-token bench) \
    GIT_ROOT=$STATE/bench-git GIT_BASE=http://127.0.0.1:8791 BENCH_OUT=$STATE/bench.json BENCH_EDGE_HTTP=8098 \
    BENCH_RUNNER_PIDFILE=$PIDS/bench-runner.pid BENCH_BIN=$bin BENCH_RUNNER_PRINCIPAL="$(principal RunnerPolicy)" \
    "$PY" "$ROOT/infra/bench.py" || { stop bench-api; stop bench-runner; stop bench-git; stop bench-caddy; exit 1; }
  stop bench-api
  stop bench-runner
  stop bench-git
  stop bench-caddy
  log "figures written to .slipway/bench.json"
}

# `sam build` as an operator runs it (one multi-binary cargo build through
# the Makefile), timed; then each bootstrap's size and cold init. SAM and
# cargo-lambda live in a venv of their own (their pins differ from moto's).
# LAMBDA_ARCH=x86-64 where the arm64 Rust target cannot be installed.
package() {
  services
  local venv=$ROOT/.venv-package
  if [ ! -x "$venv/bin/sam" ] || [ ! -x "$venv/bin/cargo-lambda" ]; then
    log "installing aws-sam-cli, cargo-lambda and ziglang into .venv-package (pip)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q aws-sam-cli==1.170.0 cargo-lambda==1.9.2 ziglang==0.17.1
  fi
  log "sam build (LAMBDA_ARCH=${LAMBDA_ARCH:-arm64})"
  local start end
  start=$(date +%s)
  (cd "$ROOT" && PATH=$venv/bin:$PATH sam build)
  end=$(date +%s)
  provision "slipway-package-$(date +%s)" >"$STATE/package-resources.env"
  "$PY" "$ROOT/infra/lambda_report.py" --build "$ROOT/.aws-sam/build" --resources "$STATE/package-resources.env" \
    --seconds $((end - start)) --out "$STATE/package.json"
}

case "${1:-}" in
  up) up ;;
  bench) bench ;;
  down) down ;;
  test) test_all ;;
  mutants) mutants ;;
  fuzz) services; build; fuzz ;;
  services) services ;;
  package) package ;;
  *) die "usage: infra/stack.sh up|down|test|bench|mutants|fuzz|services|package" ;;
esac
