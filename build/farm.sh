#!/usr/bin/env bash
# A farm behind an existing load balancer: nginx's stream module proxies UDP to three Kestrel-over-TOU servers,
# and many clients drive HTTP over TOU through it (docs/deployment.md explains the setup and its limits).
#   bash build/farm.sh            (FARM_CLIENTS=100 FARM_REQUESTS=10 by default)
# 1. Installs nginx and its stream module from the system's packages when missing (apt-get). Without them the
#    run fails in CI (CI=true) and is skipped with a message elsewhere.
# 2. Builds samples/Tou.Samples.Farm and starts three backends on free loopback ports ("serve NAME PORT").
# 3. Starts nginx with its own configuration, pid file and logs under a temporary directory (nothing under
#    /etc/nginx, no port 80): `listen ... udp reuseport`, `hash $remote_addr$remote_port consistent`.
# 4. The driver health-checks each backend directly, then runs the clients through nginx, checks every response
#    byte for byte and prints how the clients and requests spread over the backends; it exits non-zero on any failure.
#    Round 1 is plain 4-tuple hashing. In round 2 nginx reloads its configuration while every connection is open,
#    which changes the source port each backend sees; the connections carry IDs and survive it.
set -euo pipefail
cd "$(dirname "$0")/.."
clients=${FARM_CLIENTS:-100}
requests=${FARM_REQUESTS:-10}
project=samples/Tou.Samples.Farm
stream_module=/usr/lib/nginx/modules/ngx_stream_module.so

install_nginx() {
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else return 1; fi
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nginx libnginx-mod-stream
}

nginx_bin=$(PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true)
if [ -z "$nginx_bin" ] || [ ! -f "$stream_module" ]; then
  echo "nginx or its stream module is missing: installing nginx and libnginx-mod-stream with apt-get"
  nginx_bin=$(install_nginx >&2 && PATH="$PATH:/usr/sbin:/sbin" command -v nginx || true)
  if [ -z "$nginx_bin" ] || [ ! -f "$stream_module" ]; then
    if [ "${CI:-}" = true ]; then
      echo "error: nginx with the stream module could not be installed, so the farm did not run" >&2
      exit 1
    fi
    echo "skipped: nginx with the stream module is not installed and could not be installed (needs apt-get as root or sudo)" >&2
    exit 0
  fi
fi
"$nginx_bin" -v 2>&1

dotnet build "$project" -c Release -nologo -v quiet -clp:"ErrorsOnly;NoSummary"
dll="$project/bin/Release/net10.0/Tou.Samples.Farm.dll"

work=$(mktemp -d "${TMPDIR:-/tmp}/tou-farm.XXXXXX")
pids=()
cleanup() {
  local status=$?
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "$status" != 0 ]; then
    echo "--- logs ($work) ---" >&2
    tail -n 20 "$work"/*.log >&2 2>/dev/null || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT INT TERM

# A free UDP port on loopback: random in the dynamic range, not bound now, not handed out to this run already.
taken=" "
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    case "$taken" in *" $port "*) continue ;; esac
    if ! ss -Hlun "sport = :$port" | grep -q .; then taken="$taken$port "; echo "$port"; return; fi
  done
}

backends=()
upstreams=""
server_id=0
for name in alpha beta gamma; do
  port=$(free_port)
  server_id=$((server_id + 1))
  dotnet "$dll" serve "$name" "$port" "$server_id" >"$work/$name.log" 2>&1 &
  pids+=($!)
  backends+=("$name=$port")
  upstreams+="        server 127.0.0.1:$port;"$'\n'
done
lb_port=$(free_port)

# proxy_responses is left unset: a TOU flow is long-lived and bidirectional, so nginx must relay any number of
# datagrams each way until the session has been idle for proxy_timeout (longer than TOU's keep-alive interval).
cat >"$work/nginx.conf" <<CONF
load_module $stream_module;
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log notice;
events { worker_connections 1024; }
stream {
    log_format farm '\$remote_addr:\$remote_port -> \$upstream_addr sent \$bytes_sent received \$bytes_received in \$session_time s';
    access_log $work/nginx-access.log farm;
    upstream tou {
        hash \$remote_addr\$remote_port consistent;
$upstreams    }
    server {
        listen 127.0.0.1:$lb_port udp reuseport;
        proxy_pass tou;
        proxy_timeout 60s;
        proxy_buffer_size 64k;
    }
}
CONF
nginx=("$nginx_bin" -p "$work" -e "$work/nginx-error.log" -c "$work/nginx.conf")
"${nginx[@]}"
echo "nginx on 127.0.0.1:$lb_port (udp) -> ${backends[*]}"
drive() { dotnet "$dll" drive "$lb_port" "$clients" "$requests" "$@" "${backends[@]}"; }

echo
echo "== round 1: nginx hashes each client's address and port to a backend"
drive

# A reload gives nginx new workers with new UDP sessions, so each flow reaches its backend (the same one: the hash
# is consistent) from a new nginx source port. Only a connection with IDs is found from there (FARM_CONNECTION_IDS=0
# shows the other case: every connection is reset and the round fails).
ids=(--connection-ids) ids_state=on
[ "${FARM_CONNECTION_IDS:-1}" = 0 ] && ids=() ids_state=off
echo
echo "== round 2: nginx reloads its configuration halfway through; connection IDs $ids_state"
drive "${ids[@]}" --between "$(printf '%q ' "${nginx[@]}") -s reload && sleep 1"
