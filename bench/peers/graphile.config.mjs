// PostGraphile 5 for the list-page and program benchmarks: the amber preset
// over the `public` schema, in its production shape (no GraphiQL, no watch,
// no explain, no websockets/LISTEN, no JWT/pgSettings, so no transaction per
// request).
// start-postgraphile.sh passes DATABASE_URL and POOL_SIZE in the environment;
// host and port come from the CLI (-n / -p).
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";

const connectionString = process.env.DATABASE_URL;
if (!connectionString) throw new Error("DATABASE_URL is not set");
const poolSize = Number.parseInt(process.env.POOL_SIZE ?? "", 10);
if (!(poolSize > 0)) throw new Error("POOL_SIZE must be a positive integer");

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString,
      // Handed to `new pg.Pool({ ...poolConfig, connectionString })`.
      poolConfig: { max: poolSize },
      schemas: ["public"],
      // No subscriptions: no LISTEN client is ever taken from the pool.
      pubsub: false,
    }),
  ],
  grafserv: {
    graphqlPath: "/graphql",
    graphiql: false,
    graphiqlOnGraphQLGET: false,
    graphqlOverGET: false,
    watch: false,
    websockets: false,
    // Grafast's documented fast path: the response is partly stringified
    // while it is built instead of JSON.stringify over the whole tree.
    outputDataAsString: true,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
