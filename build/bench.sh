#!/usr/bin/env bash
# End-to-end benchmark: TOU and TCP side by side on this machine (loopback), Release build.
#   bash build/bench.sh            full run (a few minutes)
#   bash build/bench.sh --quick    about a minute
#   bash build/bench.sh --quick --http-only   HTTP/1.1 alone, the TOU listener with its default shards and with one
#   bash build/bench.sh --quick --profile-bulk upload fixed   one TOU bulk run (upload/download, pmtu/fixed), to run under perf
# Prints a table and writes artifacts/bench/results.json (one key per figure, TOU/TCP ratios included).
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build -c Release tests/Tou.EndToEndBench -v quiet -nologo >/dev/null
# An absolute path: dotnet run starts a Web-SDK project in its own folder.
dotnet run -c Release --no-build --project tests/Tou.EndToEndBench -- --out "$PWD/artifacts/bench/results.json" "$@"
