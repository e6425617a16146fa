#!/usr/bin/env bash
# Packs the four libraries -- Tou.Protocol, Tou.Transport, Tou.Kestrel, Tou.Kestrel.Testing -- with their symbols
# (.snupkg), and the `tou` command-line tool (Tou.Tool, a .NET tool package) into artifacts/packages, or into the
# folder given as the first argument. Package validation runs as part of the pack (the tool has none). Further
# arguments go to `dotnet pack` (e.g. --no-build after a Release build).
#
#   TOU_VERSION=0.1.0-local.7 bash build/pack.sh     # another package version for this run (the assemblies keep the
#                                                      # version in Directory.Build.props; a release changes it there)
#   TOU_CONFIGURATION=Debug bash build/pack.sh       # Release by default
#   TOU_REPOSITORY_URL=https://... bash build/pack.sh  # the project and repository URL stamped into the packages
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/artifacts/packages}"
shift || true
mkdir -p "$out"
out="$(cd "$out" && pwd)"
args=(-c "${TOU_CONFIGURATION:-Release}" -o "$out" -nologo -v quiet)
if [[ -n "${TOU_VERSION:-}" ]]; then
  args+=("-p:PackageVersion=$TOU_VERSION")
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
dotnet pack "$root/build/Tou.Packages.slnf" "${args[@]}" "$@"
if [[ -z "${TOU_REPOSITORY_URL:-}" ]] && ! grep -q '<TouRepositoryUrl[^>]*>[^<$]' "$root/src/Directory.Build.props"; then
  echo "note: no project URL stamped (the repository has no public home yet; see TouRepositoryUrl in src/Directory.Build.props)"
fi
ls -1 "$out"/Tou.*.nupkg "$out"/Tou.*.snupkg
