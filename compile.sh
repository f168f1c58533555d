#!/usr/bin/env bash
# Build dist/astron-watch-<target> with `deno compile`, for linux x86_64 and
# aarch64 by default, the macOS targets on request:
#
#   ./compile.sh                          # both linux targets
#   ./compile.sh aarch64-apple-darwin     # any targets named
#   DENORT_BIN=/path/to/denort ./compile.sh   # offline: that runtime, for the host target only
#
# The binary gets exactly the permissions and V8 flags of `deno task start` (from deno.json),
# and the version in deno.json is embedded in it (`astron-watch version`).
set -euo pipefail
cd "$(dirname "$0")"

say() { printf 'compile.sh: %s\n' "$*" >&2; }
command -v deno >/dev/null || { say "deno is not installed (npm install -g deno@2.9.6)"; exit 1; }

# The permission and V8 flags of `deno task start`: the binary can do no more than the agent needs,
# and its heap grows as the agent's does.
perms=$(deno eval --quiet 'const t = JSON.parse(Deno.readTextFileSync("deno.json")).tasks.start;
console.log(t.split(/\s+/).filter((a) => a.startsWith("--allow-") || a.startsWith("--v8-flags=")).join(" "))')
version=$(deno eval --quiet 'console.log(JSON.parse(Deno.readTextFileSync("deno.json")).version)')

host_target() {
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) echo x86_64-unknown-linux-gnu ;;
    Linux-aarch64 | Linux-arm64) echo aarch64-unknown-linux-gnu ;;
    Darwin-x86_64) echo x86_64-apple-darwin ;;
    Darwin-arm64) echo aarch64-apple-darwin ;;
    *) echo unknown ;;
  esac
}

if [ $# -gt 0 ]; then
  targets=("$@")
elif [ -n "${DENORT_BIN:-}" ]; then
  targets=("$(host_target)") # one denort binary serves one target: the host's
else
  targets=(x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu)
fi
if [ -n "${DENORT_BIN:-}" ]; then
  [ -x "$DENORT_BIN" ] || { say "DENORT_BIN=$DENORT_BIN is not an executable file"; exit 1; }
  if [ "${#targets[@]}" -gt 1 ] || [ "${targets[0]}" != "$(host_target)" ]; then
    say "DENORT_BIN is one runtime for one target; build only $(host_target) with it"
    exit 1
  fi
fi

mkdir -p dist
for target in "${targets[@]}"; do
  out="dist/astron-watch-$target"
  log=$(mktemp)
  # Workers are not found by the module graph: name them.
  # shellcheck disable=SC2086 # $perms is a list of flags
  if ! deno compile --quiet $perms --include src/access/report_worker.ts --target "$target" \
    --output "$out" main.ts >"$log" 2>&1; then
    if grep -qiE 'download|fetch|dns|connect|network|denort' "$log"; then
      say "cannot fetch the Deno runtime (denort) for $target: this machine has no route to Deno's download site; set DENORT_BIN to a local denort, or build where it is reachable"
    else
      say "deno compile failed for $target: $(grep -m1 -iE 'error' "$log" || head -1 "$log")"
    fi
    rm -f "$log" "$out"
    exit 1
  fi
  rm -f "$log"
  if [ "$target" = "$(host_target)" ]; then
    # A binary for this machine must answer with its version, or it is not ours.
    got=$("./$out" version 2>&1 || true)
    case "$got" in
      "astron-watch $version "*) ;;
      *)
        say "$out does not run as astron-watch (\"$(head -c 80 <<<"$got")\"): is DENORT_BIN a real denort?"
        rm -f "$out"
        exit 1
        ;;
    esac
  fi
  echo "built $out (astron-watch $version)"
done
