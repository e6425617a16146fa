#!/usr/bin/env bash
# Coverage-guided fuzzing of TOU's input paths with AFL++ and SharpFuzz.
#   bash build/fuzz.sh header|endpoint [seconds]      (default 600 s; long runs are manual)
# Installs what it needs (afl++ from Debian, the SharpFuzz command-line tool), instruments the protocol
# engine, and runs afl-fuzz on the committed seed corpus. Findings land in artifacts/fuzz/<target>/;
# replay one with:  dotnet artifacts/fuzz/bin/Tou.Fuzz.dll <target> --replay <file>
# Every crash or hang found becomes a regression input: copy it into tests/Tou.Fuzz/corpus/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-endpoint}"
seconds="${2:-600}"
case "$target" in header|endpoint) ;; *) echo "target must be header or endpoint" >&2; exit 2 ;; esac

if ! command -v afl-fuzz >/dev/null; then
  apt-get update -q && apt-get install -y -q afl++
fi
export PATH="$PATH:$HOME/.dotnet/tools"
if ! command -v sharpfuzz >/dev/null; then
  dotnet tool install --global SharpFuzz.CommandLine
fi

out=artifacts/fuzz
rm -rf "$out/bin"  # sharpfuzz refuses an assembly it instrumented before
dotnet publish -c Release tests/Tou.Fuzz -o "$out/bin" -v quiet -nologo >/dev/null
sharpfuzz "$out/bin/Tou.Protocol.dll"
mkdir -p "$out/$target"
export AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1
afl-fuzz -V "$seconds" -t 5000 -m none -i "tests/Tou.Fuzz/corpus/$target" -o "$out/$target" -- dotnet "$out/bin/Tou.Fuzz.dll" "$target"
grep -E "execs_done|execs_per_sec|saved_crashes|saved_hangs|corpus_count" "$out/$target/default/fuzzer_stats" || true
