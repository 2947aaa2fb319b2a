#!/usr/bin/env bash
# Regenerates the TypeScript wire code in proto/src/gen from proto/flotilla/**/*.proto, using
# buf (from npm) and the locally installed ts-proto plugin, so it works offline. Lints first:
# generated code from a schema that breaks the lint rules is never written.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
buf="$root/node_modules/.bin/buf"
if [[ ! -x "$buf" || ! -x "$root/node_modules/.bin/protoc-gen-ts_proto" ]]; then
  echo "proto-gen: buf or protoc-gen-ts_proto missing under node_modules/.bin (run npm ci at the repo root)" >&2
  exit 1
fi

cd "$root/proto"
"$buf" lint
"$buf" generate
echo "proto-gen: regenerated proto/src/gen"
