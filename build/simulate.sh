#!/usr/bin/env bash
# Goodput of one TOU connection on a simulated 100 Mbit/s path with 50 ms RTT at 0%, 1% and 5% random loss
# (virtual time, so the figures do not depend on this machine). Extra arguments go to every run, e.g. --cc cubic or --size 100.
# The default controller is BBR (v3-style); build/sweep.sh runs the wider sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release samples/Tou.Simulate -v quiet -nologo >/dev/null
for loss in 0 1 5; do
  dotnet run -c Release --no-build --project samples/Tou.Simulate -- --loss "$loss" --rtt 50 --rate 100 --size 20 "$@"
done
