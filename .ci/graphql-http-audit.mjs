// The GraphQL over HTTP conformance audit of `graphql-http` (its
// `auditServer`), run against the real server: starts `update-mode serve` in
// development mode on a scratch SQLite database (so that it prints a demo
// admin token, sent with every audit request), prints each result, and
// fails on any error or warning.
//
// Usage: node .ci/graphql-http-audit.mjs <update-mode binary> <folder where
// graphql-http is installed with npm>

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const [binary, modules] = process.argv.slice(2);
if (!binary || !modules) {
  console.error('usage: node .ci/graphql-http-audit.mjs <update-mode binary> <npm folder>');
  process.exit(2);
}
const { auditServer } = createRequire(join(resolve(modules), 'package.json'))('graphql-http');

const scratch = mkdtempSync(join(tmpdir(), 'graphql-http-audit-'));
const env = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !name.startsWith('JWT_') && !['DATABASE_URL', 'DATA_DIR', 'LISTEN_ADDR'].includes(name),
  ),
);
const server = spawn(resolve(binary), ['serve'], {
  env: {
    ...env,
    DATABASE_URL: `sqlite://${join(scratch, 'audit.db')}`,
    DATA_DIR: join(scratch, 'data'),
    LISTEN_ADDR: '127.0.0.1:0',
    RUST_LOG: 'warn',
  },
  stdio: ['ignore', 'pipe', 'inherit'],
});

let failed = true;
try {
  const { url, token } = await started(server);
  const fetchFn = (input, init = {}) =>
    fetch(input, { ...init, headers: { ...init.headers, authorization: `Bearer ${token}` } });
  const results = await auditServer({ url: `${url}/graphql`, fetchFn });
  // `notice` marks a MAY of the spec left out: shown, not failed on.
  const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
  for (const result of results) {
    counts[result.status] = (counts[result.status] ?? 0) + 1;
    console.log(`${result.status.padEnd(5)} ${result.id} ${result.name}`);
    if (result.status !== 'ok') {
      console.log(`      ${result.reason}`);
    }
  }
  console.log(
    `graphql-http audit: ${counts.ok} ok, ${counts.notice} notices, ${counts.warn} warnings, ${counts.error} errors`,
  );
  failed = counts.warn + counts.error > 0;
} catch (error) {
  console.error(`graphql-http audit: ${error.message}`);
} finally {
  server.kill();
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

/// The address the server listens on and the token it printed.
function started(child) {
  return new Promise((resolveStart, reject) => {
    const lines = createInterface({ input: child.stdout });
    let tokenNext = false;
    let token;
    const timer = setTimeout(() => reject(new Error('the server did not start within 60 s')), 60_000);
    child.once('exit', (code) => reject(new Error(`the server exited with ${code}`)));
    lines.on('line', (line) => {
      if (tokenNext) {
        token = line.trim();
        tokenNext = false;
      } else if (line.startsWith('WORKSPACE_ADMIN token for workspace')) {
        tokenNext = true;
      } else if (line.startsWith('update-mode listening on ')) {
        clearTimeout(timer);
        if (token) {
          resolveStart({ url: line.slice('update-mode listening on '.length).trim(), token });
        } else {
          reject(new Error('the server printed no development token'));
        }
      }
    });
  });
}
