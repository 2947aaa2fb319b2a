#!/usr/bin/env bash
# CI guard for the wire protocol: the .proto files must pass buf lint and be buf-formatted,
# and the committed proto/src/gen must be exactly what the current .proto files generate.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
buf="$root/node_modules/.bin/buf"
if [[ ! -x "$buf" || ! -x "$root/node_modules/.bin/protoc-gen-ts_proto" ]]; then
  echo "proto-check: buf or protoc-gen-ts_proto missing under node_modules/.bin (run npm ci at the repo root)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$root/proto"
"$buf" lint

if ! "$buf" format --diff --exit-code >"$tmp/format.diff"; then
  cat "$tmp/format.diff" >&2
  echo "proto-check: .proto files are not buf-formatted; run: (cd proto && npx buf format -w)" >&2
  exit 1
fi

"$buf" generate --output "$tmp/out"
if ! diff -r -u "$tmp/out/src/gen" src/gen >"$tmp/gen.diff"; then
  head -n 200 "$tmp/gen.diff" >&2
  echo "proto-check: proto/src/gen is stale: run 'npm run proto' and commit the result" >&2
  exit 1
fi
echo "proto-check: lint, format and generated code are up to date"
