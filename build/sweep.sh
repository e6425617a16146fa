#!/usr/bin/env bash
# The congestion-control sweep (issue 11): single flows over 10 Mbit/s – 1 Gbit/s, 10–200 ms RTT, 0–5% random and bursty
# loss, shallow and deep buffers, bandwidth steps, and flows sharing one bottleneck — for BBR (the default) and CUBIC.
# Prints the table and writes artifacts/sweep/sweep.csv and sweep.json. Virtual time: the figures do not depend on this
# machine, but the run takes several minutes of CPU. Extra arguments go to the sweep, e.g. --only shared, --cc bbr.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release samples/Tou.Simulate -v quiet -nologo >/dev/null
dotnet run -c Release --no-build --project samples/Tou.Simulate -- sweep "$@"
