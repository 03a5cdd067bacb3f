#!/usr/bin/env bash
# Usage: tests/timed.sh LABEL COMMAND...  Runs COMMAND and appends "LABEL SECONDS status" to
# $NODEGUARD_TIMES (when set), so `make test` can print the time of every stage and scenario.
set -uo pipefail
label=$1
shift
start=$(date +%s)
"$@"
rc=$?
if [ -n "${NODEGUARD_TIMES:-}" ]; then
  status=ok
  [ "$rc" = 0 ] || status="failed ($rc)"
  printf '%-34s %5ss  %s\n' "$label" "$(($(date +%s) - start))" "$status" >> "$NODEGUARD_TIMES"
fi
exit "$rc"
