#!/usr/bin/env bash
# A two-node Ray cluster on loopback, for trying multi-node scheduling and node failures locally.
#
#   scripts/local_two_node.sh start        # head (1 CPU, 0 GPU) + worker (2 CPU, 1 fake GPU)
#   source /tmp/tuner-2n-6390/env          # RAY_ADDRESS + the auth settings for your driver
#   tuner launch examples/digits_mlp.yaml --address "$RAY_ADDRESS" --set resources.gpus=0.5
#   scripts/local_two_node.sh kill-worker  # SIGKILL the worker's raylet: a crashed node
#   scripts/local_two_node.sh stop         # stop exactly these two nodes (never `ray stop`)
#   scripts/local_two_node.sh status
#
# Settings (environment): TUNER_TWO_NODE_PORT (GCS port, default 6390), TUNER_TWO_NODE_DIR
# (state: pids, logs, token, Ray temp dir; default /tmp/tuner-2n-$PORT), RAY_AUTH_MODE (default
# token: a fresh token in $DIR/auth_token, used via RAY_AUTH_TOKEN_PATH by every process;
# `disabled` turns auth off everywhere), RAY (the ray executable, default: the one on PATH).
#
# Why this shape: every node runs `ray start --block` in the background so it can be stopped by
# its own PID (`ray stop` would stop every Ray on the machine); a private --temp-dir keeps the
# "current cluster" pointer out of /tmp/ray, so a plain ray.init() elsewhere never joins this
# cluster; the same RAY_AUTH_MODE goes to head, worker and driver, because a joining node does
# not turn token auth on by itself (docs/cluster.md). The worker's GPU is logical: on a machine
# without one, trials see CUDA_VISIBLE_DEVICES=0 but torch.cuda.is_available() is False.
set -euo pipefail

PORT="${TUNER_TWO_NODE_PORT:-6390}"
DIR="${TUNER_TWO_NODE_DIR:-/tmp/tuner-2n-$PORT}"
RAY="${RAY:-ray}"
ADDRESS="127.0.0.1:$PORT"
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-token}"
# A process that ran a local `tuner launch` in-process carries Ray's "clusters disabled" switch
# (tuner.launch.runner.local_only_env sets RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0); a worker node started
# with it refuses to join. Unset, Ray's default applies (enabled on Linux, disabled on macOS).
if [[ "${RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER:-}" == "0" ]]; then unset RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER; fi
START_TIMEOUT_S=90

die() { echo "local_two_node: $*" >&2; exit 2; }

alive() { [[ -f "$DIR/$1.pid" ]] && kill -0 "$(cat "$DIR/$1.pid")" 2>/dev/null; }

wait_started() {  # $1 = role; waits for "Ray runtime started" in its log
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until grep -q "Ray runtime started" "$DIR/$1.log" 2>/dev/null; do
    alive "$1" || { tail -20 "$DIR/$1.log" >&2; die "$1 node exited during start"; }
    ((SECONDS < deadline)) || die "$1 node not up after ${START_TIMEOUT_S}s (log: $DIR/$1.log)"
    sleep 0.2
  done
}

setup_auth() {
  case "$RAY_AUTH_MODE" in
    token)
      if [[ -z "${RAY_AUTH_TOKEN:-}" && -z "${RAY_AUTH_TOKEN_PATH:-}" ]]; then
        (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$DIR/auth_token")
        export RAY_AUTH_TOKEN_PATH="$DIR/auth_token"
      fi ;;
    disabled) ;;
    *) die "RAY_AUTH_MODE must be token or disabled, got '$RAY_AUTH_MODE'" ;;
  esac
}

launch() {  # $1 = role, rest = ray start arguments
  local role="$1"; shift
  nohup "$RAY" start --block --disable-usage-stats --node-ip-address=127.0.0.1 "$@" \
    > "$DIR/$role.log" 2>&1 < /dev/null &
  echo $! > "$DIR/$role.pid"
}

write_env() {
  {
    echo "export RAY_ADDRESS=$ADDRESS"
    echo "export RAY_AUTH_MODE=$RAY_AUTH_MODE"
    [[ -n "${RAY_AUTH_TOKEN_PATH:-}" ]] && echo "export RAY_AUTH_TOKEN_PATH=$RAY_AUTH_TOKEN_PATH"
    true
  } > "$DIR/env"
}

start() {
  alive head || alive worker && die "already running (state in $DIR); run: $0 stop"
  mkdir -p "$DIR/tmp"
  setup_auth
  local t0=$SECONDS
  launch head --head --port="$PORT" \
    --num-cpus=1 --num-gpus=0 --include-dashboard=false --temp-dir="$DIR/tmp"
  wait_started head
  launch worker --address="$ADDRESS" --num-cpus=2 --num-gpus=1 \
    --resources='{"fake_gpu_node": 1}' --temp-dir="$DIR/tmp"
  wait_started worker
  write_env
  echo "RAY_ADDRESS=$ADDRESS"
  echo "two nodes up in $((SECONDS - t0))s; for your driver: source $DIR/env"
}

stop_role() {  # $1 = role: SIGTERM its `ray start --block` (which stops its processes), then KILL
  alive "$1" || { rm -f "$DIR/$1.pid"; return 0; }
  local pid; pid="$(cat "$DIR/$1.pid")"
  kill -TERM "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  rm -f "$DIR/$1.pid"
  echo "stopped $1 (pid $pid)"
}

kill_worker() {  # a crash, not a shutdown: SIGKILL the worker's raylet, then its other processes
  alive worker || die "worker is not running"
  local pid children raylet
  pid="$(cat "$DIR/worker.pid")"
  children="$(ps -o pid= --ppid "$pid" | tr '\n' ' ')"
  raylet="$(ps -o pid=,comm= --ppid "$pid" | awk '$2 == "raylet" {print $1}')"
  [[ -n "$raylet" ]] || die "no raylet under worker pid $pid"
  kill -KILL "$raylet"
  kill -KILL "$pid" $children 2>/dev/null || true
  rm -f "$DIR/worker.pid"
  echo "killed worker node: raylet $raylet, ray start $pid, others: $children"
}

status() {
  for role in head worker; do
    if alive "$role"; then echo "$role: running (pid $(cat "$DIR/$role.pid"))"; else echo "$role: stopped"; fi
  done
  echo "RAY_ADDRESS=$ADDRESS"
}

case "${1:-}" in
  start) start ;;
  stop) stop_role worker; stop_role head ;;
  kill-worker) kill_worker ;;
  status) status ;;
  *) echo "usage: $0 start|stop|kill-worker|status" >&2; exit 2 ;;
esac
