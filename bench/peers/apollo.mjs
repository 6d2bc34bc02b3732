// Apollo Server peer for the console benchmarks: update-mode's
// `miniPrograms` list with each program's newest versions, and its
// `miniProgram` query (one program with its versions and update-mode
// history), served from the same PostgreSQL tables by hand-written resolvers.
//
// Environment: DATABASE_URL, PORT, POOL_SIZE, JWT_SECRET (HS256), and
// optionally HOST (default 127.0.0.1). start-apollo.sh sets them.
//
// Per request: the bearer token is verified (HS256, `exp` and `sub`
// required, the workspace from its `workspace_id` claim, `roles` an array),
// else 401 before any GraphQL work; then one SQL statement for the page of
// programs (keyset on (search_name, id), LIMIT first + 1) and, through a
// per-request DataLoader, one statement for the newest versions of every
// program on the page (LATERAL ... ORDER BY major, minor, patch DESC LIMIT n
// on the unique index (mini_program_id, major, minor, patch)). For
// `miniProgram(id)`: one statement for the program (by id, within the
// token's workspace), then, through per-request DataLoaders, one for its
// newest versions (the same statement as the list's) and one for its newest
// update-mode changes (LATERAL ... ORDER BY revision DESC LIMIT n on the
// primary key (mini_program_id, revision)). All are named (prepared once per
// connection).
import http from "node:http";
import { ApolloServer, HeaderMap } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginSchemaReportingDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import DataLoader from "dataloader";
import { GraphQLError } from "graphql";
import jwt from "jsonwebtoken";
import pg from "pg";

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return value;
}

const DATABASE_URL = required("DATABASE_URL");
const PORT = Number.parseInt(required("PORT"), 10);
const POOL_SIZE = Number.parseInt(required("POOL_SIZE"), 10);
const JWT_SECRET = required("JWT_SECRET");
const HOST = process.env.HOST || "127.0.0.1";
if (!(POOL_SIZE > 0) || !(PORT > 0)) {
  console.error("PORT and POOL_SIZE must be positive integers");
  process.exit(2);
}

const MAX_BODY_BYTES = 1024 * 1024;
const MAX_TOKEN_BYTES = 8 * 1024;
// As update-mode: 30 s of clock leeway.
const JWT_OPTIONS = { algorithms: ["HS256"], clockTolerance: 30 };

const pool = new pg.Pool({ connectionString: DATABASE_URL, max: POOL_SIZE });
pool.on("error", (error) => console.error("idle PostgreSQL client error:", error.message));

const typeDefs = /* GraphQL */ `
  enum MiniProgramType { DSL H5 }
  enum MiniProgramChannel { WORKSPACE ALIPAY_PLUS }
  enum UpdateMode { DEFAULT ASYNC SYNC }
  enum UpdateModeSource { PENDING RELEASED }
  "RFC 3339 in UTC with microseconds, as update-mode's (2026-11-25T06:43:56.123456Z)."
  scalar DateTime
  enum VersionStatus {
    NEW_VERSION_CREATED PENDING_APPROVAL APPROVED REJECTED GRAY_RELEASE FULL_RELEASE OFFLINE
  }

  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type MiniProgramVersion {
    id: ID!
    "MAJOR.MINOR.PATCH"
    version: String!
    status: VersionStatus!
    "The version's fixed mode, or the program's while NEW_VERSION_CREATED."
    updateMode: UpdateMode!
    "PENDING while NEW_VERSION_CREATED (the program's mode applies), else RELEASED."
    updateModeSource: UpdateModeSource!
  }

  type MiniProgramVersionConnection {
    nodes: [MiniProgramVersion!]!
  }

  type UpdateModeChange {
    "The program's revision that this change produced."
    revision: Int!
    previousMode: UpdateMode!
    mode: UpdateMode!
    changedBy: String!
    changedAt: DateTime!
  }

  type UpdateModeChangeConnection {
    nodes: [UpdateModeChange!]!
  }

  type MiniProgram {
    id: ID!
    name: String!
    type: MiniProgramType!
    channel: MiniProgramChannel!
    updateMode: UpdateMode!
    "Whether the caller may change the update mode: WORKSPACE_ADMIN, a DSL program, not on ALIPAY_PLUS."
    updateModeEditable: Boolean!
    revision: Int!
    "Newest version number first; first is 1 to 100."
    versions(first: Int = 5): MiniProgramVersionConnection!
    "Newest change first; first is 1 to 100."
    updateModeHistory(first: Int = 20): UpdateModeChangeConnection!
  }

  type MiniProgramConnection {
    nodes: [MiniProgram!]!
    pageInfo: PageInfo!
  }

  type Query {
    "The caller's workspace's programs by (lowercased name, id); first is 1 to 100."
    miniPrograms(first: Int = 20, after: String): MiniProgramConnection!
    "A program of the caller's workspace; null when there is none with this id."
    miniProgram(id: ID!): MiniProgram
  }
`;

// Column aliases match the GraphQL field names, so the default resolvers
// serve MiniProgram's scalar fields.
const PROGRAMS_FIRST_PAGE = `
  SELECT id, name, search_name, program_type AS type, channel, update_mode AS "updateMode", revision
  FROM mini_programs
  WHERE workspace_id = $1
  ORDER BY search_name, id
  LIMIT $2`;
const PROGRAMS_AFTER = `
  SELECT id, name, search_name, program_type AS type, channel, update_mode AS "updateMode", revision
  FROM mini_programs
  WHERE workspace_id = $1 AND (search_name, id) > ($2, $3)
  ORDER BY search_name, id
  LIMIT $4`;
const PROGRAM_BY_ID = `
  SELECT id, name, search_name, program_type AS type, channel, update_mode AS "updateMode", revision
  FROM mini_programs
  WHERE id = $1 AND workspace_id = $2`;
const NEWEST_VERSIONS = `
  SELECT p.id AS mini_program_id, v.id, v.major, v.minor, v.patch, v.status, v.update_mode
  FROM unnest($1::text[]) AS p(id)
  CROSS JOIN LATERAL (
    SELECT id, major, minor, patch, status, update_mode
    FROM mini_program_versions
    WHERE mini_program_id = p.id
    ORDER BY major DESC, minor DESC, patch DESC
    LIMIT $2
  ) v`;
// The time formatted by PostgreSQL as update-mode formats it (the column is
// a UTC TIMESTAMP without zone).
const NEWEST_CHANGES = `
  SELECT p.id AS mini_program_id, c.revision, c.previous_mode, c.mode, c.changed_by, c.changed_at
  FROM unnest($1::text[]) AS p(id)
  CROSS JOIN LATERAL (
    SELECT revision, previous_mode, mode, changed_by,
      to_char(changed_at, 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS changed_at
    FROM update_mode_changes
    WHERE mini_program_id = p.id
    ORDER BY revision DESC
    LIMIT $2
  ) c`;

function badInput(message) {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}

function pageSize(first) {
  if (!Number.isInteger(first) || first < 1 || first > 100) {
    throw badInput("first must be 1 to 100");
  }
  return first;
}

function encodeCursor(row) {
  return Buffer.from(JSON.stringify([row.search_name, row.id])).toString("base64url");
}

function decodeCursor(cursor) {
  try {
    const value = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (Array.isArray(value) && value.length === 2 && value.every((v) => typeof v === "string")) {
      return value;
    }
  } catch {
    // fall through
  }
  throw badInput("after is not a cursor of this list");
}

// One loader per `first` value within a request: every program on the page
// asks with the same `first`, so the page costs one query (named `name`).
function topLoaders(name, text) {
  const loaders = new Map();
  return (first) => {
    let loader = loaders.get(first);
    if (!loader) {
      loader = new DataLoader(async (programIds) => {
        const { rows } = await pool.query({ name, text, values: [programIds, first] });
        const byProgram = new Map();
        for (const row of rows) {
          let list = byProgram.get(row.mini_program_id);
          if (!list) byProgram.set(row.mini_program_id, (list = []));
          list.push(row);
        }
        return programIds.map((id) => byProgram.get(id) ?? []);
      });
      loaders.set(first, loader);
    }
    return loader;
  };
}

const versionLoaders = () => topLoaders("newest_versions", NEWEST_VERSIONS);
const historyLoaders = () => topLoaders("newest_changes", NEWEST_CHANGES);

const resolvers = {
  Query: {
    async miniPrograms(_root, { first, after }, { principal }) {
      const limit = pageSize(first);
      const query =
        after == null
          ? { name: "programs_first_page", text: PROGRAMS_FIRST_PAGE, values: [principal.workspaceId, limit + 1] }
          : {
              name: "programs_after",
              text: PROGRAMS_AFTER,
              values: [principal.workspaceId, ...decodeCursor(after), limit + 1],
            };
      const { rows } = await pool.query(query);
      const hasNextPage = rows.length > limit;
      const nodes = hasNextPage ? rows.slice(0, limit) : rows;
      return {
        nodes,
        pageInfo: {
          hasNextPage,
          endCursor: nodes.length > 0 ? encodeCursor(nodes[nodes.length - 1]) : null,
        },
      };
    },
    async miniProgram(_root, { id }, { principal }) {
      const { rows } = await pool.query({
        name: "program_by_id",
        text: PROGRAM_BY_ID,
        values: [id, principal.workspaceId],
      });
      return rows[0] ?? null;
    },
  },
  MiniProgram: {
    // As update-mode's update_mode_locks: empty exactly when all three hold.
    updateModeEditable(program, _args, { principal }) {
      return (
        principal.roles.includes("WORKSPACE_ADMIN") && program.type === "DSL" && program.channel !== "ALIPAY_PLUS"
      );
    },
    async versions(program, { first }, { versions }) {
      const rows = await versions(pageSize(first)).load(program.id);
      return {
        nodes: rows.map((row) => ({
          id: row.id,
          version: `${row.major}.${row.minor}.${row.patch}`,
          status: row.status,
          // NULL exactly while NEW_VERSION_CREATED: the program's mode applies.
          updateMode: row.update_mode ?? program.updateMode,
          updateModeSource: row.update_mode == null ? "PENDING" : "RELEASED",
        })),
      };
    },
    async updateModeHistory(program, { first }, { history }) {
      const rows = await history(pageSize(first)).load(program.id);
      return {
        nodes: rows.map((row) => ({
          revision: row.revision,
          previousMode: row.previous_mode,
          mode: row.mode,
          changedBy: row.changed_by,
          changedAt: row.changed_at,
        })),
      };
    },
  },
};

/** The principal of a valid bearer token, or null. */
function authenticate(header) {
  if (typeof header !== "string" || !header.startsWith("Bearer ")) return null;
  const token = header.slice(7).trim();
  if (token.length === 0 || token.length > MAX_TOKEN_BYTES) return null;
  let claims;
  try {
    claims = jwt.verify(token, JWT_SECRET, JWT_OPTIONS);
  } catch {
    return null;
  }
  if (
    typeof claims !== "object" ||
    typeof claims.exp !== "number" ||
    typeof claims.sub !== "string" ||
    typeof claims.workspace_id !== "string" ||
    claims.workspace_id === "" ||
    !Array.isArray(claims.roles) ||
    !claims.roles.every((role) => typeof role === "string")
  ) {
    return null;
  }
  return { subject: claims.sub, workspaceId: claims.workspace_id, roles: claims.roles };
}

function sendJson(res, status, body, extraHeaders = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(Object.assign(new Error("request body too large"), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

const httpServer = http.createServer();

const apollo = new ApolloServer({
  typeDefs,
  resolvers,
  plugins: [
    ApolloServerPluginDrainHttpServer({ httpServer }),
    ApolloServerPluginLandingPageDisabled(),
    // No CDN in front: skip computing cache hints on every field.
    ApolloServerPluginCacheControlDisabled(),
    ApolloServerPluginUsageReportingDisabled(),
    ApolloServerPluginSchemaReportingDisabled(),
    ApolloServerPluginInlineTraceDisabled(),
  ],
});
await apollo.start();

httpServer.on("request", async (req, res) => {
  try {
    const queryAt = req.url.indexOf("?");
    const path = queryAt === -1 ? req.url : req.url.slice(0, queryAt);
    if (path !== "/graphql") {
      sendJson(res, 404, { errors: [{ message: "not found" }] });
      return;
    }
    if (req.method !== "POST") {
      sendJson(res, 405, { errors: [{ message: "use POST" }] }, { allow: "POST" });
      return;
    }
    const principal = authenticate(req.headers.authorization);
    if (!principal) {
      req.resume();
      sendJson(
        res,
        401,
        { errors: [{ message: "a valid bearer token is required", extensions: { code: "UNAUTHENTICATED" } }] },
        { "www-authenticate": "Bearer" },
      );
      return;
    }
    let body;
    try {
      body = JSON.parse(await readBody(req));
    } catch (error) {
      sendJson(res, error.status ?? 400, { errors: [{ message: error.status ? error.message : "the body is not JSON" }] });
      return;
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: "POST",
        headers,
        search: queryAt === -1 ? "" : req.url.slice(queryAt),
        body,
      },
      context: async () => ({ principal, versions: versionLoaders(), history: historyLoaders() }),
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === "complete") {
      res.end(response.body.string);
    } else {
      for await (const chunk of response.body.asyncIterator) res.write(chunk);
      res.end();
    }
  } catch (error) {
    console.error(error);
    if (!res.headersSent) sendJson(res, 500, { errors: [{ message: "internal error" }] });
    else res.destroy();
  }
});

httpServer.listen(PORT, HOST, () => {
  console.log(`Apollo Server listening at http://${HOST}:${PORT}/graphql (pool ${POOL_SIZE})`);
});

async function shutdown() {
  await apollo.stop();
  await pool.end();
  process.exit(0);
}
process.once("SIGTERM", shutdown);
process.once("SIGINT", shutdown);
