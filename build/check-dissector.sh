#!/usr/bin/env bash
# Checks the Wireshark dissector (tools/wireshark/tou.lua) with tshark against a capture the project writes.
#   bash build/check-dissector.sh
# 1. Installs tshark from the system's packages when missing (apt-get, as build/fuzz.sh installs AFL++).
#    Without it the check fails in CI (CI=true) and is skipped with a message elsewhere.
# 2. Writes artifacts/wireshark/tou.pcap and expected.tsv with a test of Tou.Protocol.Tests
#    (DissectorCaptureTests): the seed's test vectors, hand-made extended SYNs and a scripted engine exchange
#    (extended handshake, data, loss with SACK blocks, delayed ACKs, a path MTU probe and its echo, FIN, trailers).
# 3. Decodes the capture with tshark and the dissector and compares every field of every packet with what
#    the project sent (expected.tsv: packet number, field, value), and checks that every field the dissector
#    registers is among those compared.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/wireshark
dissector=tools/wireshark/tou.lua

install_tshark() {
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else return 1; fi
  fi
  # wireshark-common asks whether non-root users may capture; answer it before apt does (nothing is captured here).
  echo "wireshark-common wireshark-common/install-setuid boolean false" | "${sudo[@]}" debconf-set-selections || true
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends tshark
}

if ! command -v tshark >/dev/null; then
  echo "tshark is missing: installing it with apt-get"
  if ! install_tshark || ! command -v tshark >/dev/null; then
    if [ "${CI:-}" = true ]; then
      echo "error: tshark could not be installed, so the dissector was not checked" >&2
      exit 1
    fi
    echo "skipped: tshark is not installed and could not be installed (needs apt-get as root or sudo)" >&2
    exit 0
  fi
fi
tshark --version | head -n 1

# The capture and what each packet must decode to, written by the project's codecs and engine.
rm -rf "$out" && mkdir -p "$out"
TOU_WIRESHARK_OUT="$PWD/$out" dotnet test tests/Tou.Protocol.Tests/Tou.Protocol.Tests.csproj -c Release \
  --filter "FullyQualifiedName~Tou.Protocol.Tests.Wireshark.DissectorCaptureTests.Writes_the_capture_and_the_expected_fields" \
  --logger "console;verbosity=minimal" -nologo >"$out/dotnet-test.log" 2>&1 || { cat "$out/dotnet-test.log" >&2; exit 1; }

mapfile -t fields <"$out/fields.txt"
tshark_lua=(tshark -n -X "lua_script:$dissector")

# Every field the dissector registers (expert infos aside) must be one the check compares, and the other way
# round; -G must come first.
tshark -G fields -X "lua_script:$dissector" 2>/dev/null | awk -F'\t' '$1 == "F" && $5 == "tou" && $3 !~ /^tou\.expert\./ { print $3 }' | sort >"$out/registered.txt"
if ! diff <(sort "$out/fields.txt") "$out/registered.txt" >"$out/fields.diff"; then
  echo "error: the dissector's fields (>) differ from the fields the check compares (<):" >&2
  cat "$out/fields.diff" >&2
  exit 1
fi

# Decode, then one line per packet and field as in expected.tsv. Booleans print as 0/1 or False/True and hex
# fields as 0x.. depending on the tshark version; both become decimal here, as expected.tsv writes them.
args=()
for field in "${fields[@]}"; do args+=(-e "$field"); done
"${tshark_lua[@]}" -r "$out/tou.pcap" -T fields -E header=n -E separator=/t -E occurrence=a -E aggregator=, "${args[@]}" \
  2>"$out/tshark.log" >"$out/tshark.tsv"
if grep -qi "lua.*error\|error.*lua" "$out/tshark.log"; then cat "$out/tshark.log" >&2; exit 1; fi
# A second pass (-2) dissects frames again with pinfo.visited set, as Wireshark's GUI does: same fields.
"${tshark_lua[@]}" -2 -r "$out/tou.pcap" -T fields -E header=n -E separator=/t -E occurrence=a -E aggregator=, "${args[@]}" \
  2>/dev/null >"$out/tshark-2pass.tsv"
if ! diff -q "$out/tshark.tsv" "$out/tshark-2pass.tsv" >/dev/null; then
  echo "error: a second dissection pass shows other values than the first:" >&2
  diff "$out/tshark.tsv" "$out/tshark-2pass.tsv" | head -n 20 >&2
  exit 1
fi
awk -F'\t' -v names="${fields[*]}" '
  function normalize(v,   n, i, d) {
    if (v == "True") return 1
    if (v == "False") return 0
    if (v !~ /^0x[0-9a-fA-F]+$/) return v
    n = 0
    for (i = 3; i <= length(v); i++) { d = index("0123456789abcdef", tolower(substr(v, i, 1))) - 1; n = n * 16 + d }
    return sprintf("%.0f", n)
  }
  function normalize_all(v,   parts, k, n, r) {
    n = split(v, parts, ",")
    r = normalize(parts[1])
    for (k = 2; k <= n; k++) r = r "," normalize(parts[k])
    return r
  }
  BEGIN { split(names, name, " ") }
  { for (i = 1; i <= NF; i++) if ($i != "") print NR "\t" name[i] "\t" normalize_all($i) }
' "$out/tshark.tsv" >"$out/actual.tsv"

packets=$(cut -f1 "$out/expected.tsv" | sort -u | wc -l)
values=$(wc -l <"$out/expected.tsv")
if ! diff "$out/expected.tsv" "$out/actual.tsv" >"$out/decode.diff"; then
  echo "error: tshark with $dissector decodes $out/tou.pcap differently from what was sent (< expected, > decoded):" >&2
  head -n 60 "$out/decode.diff" >&2
  exit 1
fi
echo "dissector check passed: $packets packets, $values field values, ${#fields[@]} fields, all decoded exactly"
