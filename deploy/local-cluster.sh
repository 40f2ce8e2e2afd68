#!/usr/bin/env bash
# A three-node certchain cluster on loopback, for trying clustering on one
# machine: `make cluster` (start) and `make cluster-stop` (stop).
# Data, logs and pids live in ./cluster/nodeN. node1 founds the cluster and
# its development network; node2 and node3 share that network and join it.
set -euo pipefail
BIN=${BIN:-bin/certchain}
DIR=${CLUSTER_DIR:-cluster}

ports() { # node number -> "http https raft"
  echo "$((8180 + $1)) $((8543 + $1)) $((8400 + $1))"
}

wait_ready() { # node number
  for _ in $(seq 1 150); do
    if "$BIN" ledger head --data "$DIR/node$1" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$(cat "$DIR/node$1/pid")" 2>/dev/null; then
      echo "node$1 exited; see $DIR/node$1/node.log" >&2; tail -20 "$DIR/node$1/node.log" >&2; return 1
    fi
    sleep 0.2
  done
  echo "node$1 not ready after 30s; see $DIR/node$1/node.log" >&2
  return 1
}

start_node() { # node number, extra flags...
  local n=$1; shift
  read -r http https raft <<<"$(ports "$n")"
  mkdir -p "$DIR/node$n"
  if [ -f "$DIR/node$n/pid" ] && kill -0 "$(cat "$DIR/node$n/pid")" 2>/dev/null; then
    echo "node$n already running (pid $(cat "$DIR/node$n/pid"))"; return 0
  fi
  nohup "$BIN" node --id "node$n" --data "$DIR/node$n" --http "127.0.0.1:$http" \
    --https "127.0.0.1:$https" --raft "127.0.0.1:$raft" "$@" >"$DIR/node$n/node.log" 2>&1 &
  echo $! >"$DIR/node$n/pid"
  wait_ready "$n"
}

start() {
  start_node 1
  read -r _ https1 _ <<<"$(ports 1)"
  for n in 2 3; do
    start_node "$n" --network "$DIR/node1/network" --join "https://127.0.0.1:$https1"
  done
  echo "three-node cluster running:"
  for n in 1 2 3; do
    read -r http https raft <<<"$(ports "$n")"
    echo "  node$n  https://127.0.0.1:$https (mTLS)  http://127.0.0.1:$http (reads, OCSP)  raft 127.0.0.1:$raft  data $DIR/node$n"
  done
  echo "try:  $BIN cluster status --data $DIR/node1"
  echo "      $BIN ledger compare --data $DIR/node1 https://127.0.0.1:8544 https://127.0.0.1:8545 https://127.0.0.1:8546"
  echo "      (any node's CLI profile works: --data $DIR/nodeN)"
  echo "stop: make cluster-stop"
}

stop() {
  for n in 1 2 3; do
    local pidf="$DIR/node$n/pid"
    [ -f "$pidf" ] || continue
    local pid; pid=$(cat "$pidf")
    if kill "$pid" 2>/dev/null; then
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      echo "stopped node$n"
    fi
    rm -f "$pidf"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
