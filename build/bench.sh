#!/usr/bin/env bash
# End-to-end benchmark: TOU and TCP side by side on this machine (loopback), Release build.
#   bash build/bench.sh            full run (a few minutes)
#   bash build/bench.sh --quick    about a minute
#   bash build/bench.sh --quick --http-only   HTTP/1.1 alone, the TOU listener with its default shards and with one
#   bash build/bench.sh --quick --profile-bulk upload fixed   one TOU bulk run (upload/download, pmtu/fixed), to run under perf
#   bash build/bench.sh --quick --relay-only  the impairment relay alone (forwarding, release timing, rate) and TOU
#                                             (default, CUBIC, BBR) beside kcptun through it at 100 Mbit/s
# Prints a table and writes artifacts/bench/results.json (one key per figure, TOU/TCP ratios included).
set -euo pipefail
cd "$(dirname "$0")/.."

# kcptun (Debian's package) tunnels TCP over KCP through the same relay as TOU, for the relay section's comparison.
# Installed when missing, non-interactively: as root, or with passwordless sudo; otherwise its figures are left out.
wants_relay=1
for a in "$@"; do case "$a" in --http-only|--bulk-only|--memory-only|--setup-only|--http-cell|--profile-bulk|--relay-forward-only|--relay-rate-only) wants_relay=0 ;; esac; done
if [ "$wants_relay" = 1 ] && ! command -v kcptun-client >/dev/null 2>&1; then
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo_cmd="sudo -n"; else sudo_cmd="none"; fi
  fi
  if [ "$sudo_cmd" != none ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing kcptun (apt-get install kcptun) for the relay comparison"
    apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q)
    $sudo_cmd "${apt[@]}" install kcptun >/dev/null 2>&1 \
      || { $sudo_cmd "${apt[@]}" update >/dev/null 2>&1 && $sudo_cmd "${apt[@]}" install kcptun >/dev/null 2>&1; } || true
  fi
  command -v kcptun-client >/dev/null 2>&1 \
    || echo "kcptun: not installed and cannot be here (needs apt-get and root or passwordless sudo); the kcptun figures are skipped"
fi

dotnet build -c Release tests/Tou.EndToEndBench -v quiet -nologo >/dev/null
# An absolute path: dotnet run starts a Web-SDK project in its own folder.
dotnet run -c Release --no-build --project tests/Tou.EndToEndBench -- --out "$PWD/artifacts/bench/results.json" "$@"
