//! Every setting, typed, from command-line flags or the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::domain::Role;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/update-mode.db";

#[derive(Debug, Parser)]
#[command(
    name = "update-mode",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Serving is what runs without a subcommand.
    #[command(flatten)]
    pub serve: ServeArgs,
    #[command(flatten)]
    pub database: DatabaseSettings,
    #[command(flatten)]
    pub auth: AuthSettings,
    #[command(flatten)]
    pub hooks: HookSettings,
    #[command(flatten)]
    pub launch: LaunchSettings,
    #[command(flatten)]
    pub api: ApiSettings,
    #[command(flatten)]
    pub subscriptions: SubscriptionSettings,
    /// Log lines as `pretty` text or `json` objects (to stderr; `RUST_LOG` filters).
    #[arg(long, env = "LOG_FORMAT", default_value = "pretty", value_parser = ["pretty", "json"], global = true)]
    pub log_format: String,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the GraphQL API (the default).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Mint a bearer token signed with the configured secret.
    Token(TokenArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Do not apply pending migrations at start (run `migrate` yourself).
    #[arg(long, env = "SKIP_MIGRATIONS")]
    pub skip_migrations: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DatabaseSettings {
    /// `sqlite://PATH` or `postgres://USER@HOST/DB`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true, hide_env_values = true)]
    pub database_url: String,
    /// Connections per process.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 10, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub database_pool_size: u16,
    /// Where development files are kept (the development signing secret).
    #[arg(long, env = "DATA_DIR", default_value = "data", global = true)]
    pub data_dir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct AuthSettings {
    /// HS256 signing secret of the identity provider (at least 32 bytes).
    /// With no secret and no public key set, the server runs in development
    /// mode: a local secret, demo data and a printed token.
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true,
        conflicts_with_all = ["jwt_public_key_file", "jwt_jwks_file", "jwt_jwks_url"])]
    pub jwt_secret: Option<String>,
    /// A PEM public key (RSA: RS256, EC P-256: ES256, Ed25519: EdDSA).
    #[arg(long, env = "JWT_PUBLIC_KEY_FILE", global = true,
        conflicts_with_all = ["jwt_jwks_file", "jwt_jwks_url"])]
    pub jwt_public_key_file: Option<PathBuf>,
    /// A JWKS document on disk; keys are chosen by `kid`.
    #[arg(
        long,
        env = "JWT_JWKS_FILE",
        global = true,
        conflicts_with = "jwt_jwks_url"
    )]
    pub jwt_jwks_file: Option<PathBuf>,
    /// The provider's published JWKS, e.g. `https://idp.example.com/.well-known/jwks.json`.
    #[arg(long, env = "JWT_JWKS_URL", global = true)]
    pub jwt_jwks_url: Option<url::Url>,
    /// How often a key file or JWKS is read again, in seconds.
    #[arg(long, env = "JWT_JWKS_REFRESH_SECONDS", default_value_t = 300, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub jwt_jwks_refresh_seconds: u64,
    /// The least time between two JWKS fetches caused by tokens naming an
    /// unknown `kid`, in seconds.
    #[arg(
        long,
        env = "JWT_JWKS_COOLDOWN_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub jwt_jwks_cooldown_seconds: u64,
    /// Required `iss` claim, when set.
    #[arg(long, env = "JWT_ISSUER", global = true)]
    pub jwt_issuer: Option<String>,
    /// Required `aud` claim, when set.
    #[arg(long, env = "JWT_AUDIENCE", global = true)]
    pub jwt_audience: Option<String>,
    /// The dotted path of the claim holding the workspace id, e.g.
    /// `https://example.com/claims.tenant`.
    #[arg(
        long,
        env = "JWT_WORKSPACE_CLAIM",
        default_value = "workspace_id",
        global = true
    )]
    pub jwt_workspace_claim: String,
    /// The dotted path of the claim holding the roles, e.g. `realm_access.roles`.
    #[arg(long, env = "JWT_ROLES_CLAIM", default_value = "roles", global = true)]
    pub jwt_roles_claim: String,
    /// Provider role names and the roles they grant: `name=ROLE,name=ROLE`.
    #[arg(long, env = "JWT_ROLE_MAP", default_value = "", global = true)]
    pub jwt_role_map: String,
    /// Tolerated clock difference for `exp` and `nbf`, in seconds.
    #[arg(long, env = "JWT_LEEWAY_SECONDS", default_value_t = crate::auth::DEFAULT_LEEWAY_SECONDS, global = true)]
    pub jwt_leeway_seconds: u64,
}

impl AuthSettings {
    /// No configured key: the server runs in development mode.
    pub fn development_mode(&self) -> bool {
        self.jwt_secret.is_none()
            && self.jwt_public_key_file.is_none()
            && self.jwt_jwks_file.is_none()
            && self.jwt_jwks_url.is_none()
    }
}

#[derive(Debug, Clone, Args)]
pub struct HookSettings {
    /// How long a guard hook may take before the change is refused.
    #[arg(
        long,
        env = "HOOK_GUARD_TIMEOUT_MS",
        default_value_t = 2000,
        global = true
    )]
    pub hook_guard_timeout_ms: u64,
    /// Attempts per webhook delivery before it is FAILED.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 8, global = true, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,
    /// The wait after the first failed attempt, doubling per attempt.
    #[arg(
        long,
        env = "WEBHOOK_RETRY_BASE_MS",
        default_value_t = 1000,
        global = true
    )]
    pub webhook_retry_base_ms: u64,
    /// The longest wait between two attempts.
    #[arg(
        long,
        env = "WEBHOOK_RETRY_MAX_MS",
        default_value_t = 3_600_000,
        global = true
    )]
    pub webhook_retry_max_ms: u64,
    /// How long a receiver may take to answer.
    #[arg(
        long,
        env = "WEBHOOK_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub webhook_timeout_ms: u64,
    /// Allow webhook targets on loopback, private, link-local and metadata
    /// addresses. Default: true in development mode, false otherwise.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_TARGETS", global = true)]
    pub webhook_allow_private_targets: Option<bool>,
    /// How long a process holds a claimed delivery before another may take it over.
    #[arg(long, env = "HOOK_LEASE_MS", default_value_t = 60_000, global = true)]
    pub hook_lease_ms: u64,
    /// The longest the dispatcher waits before looking for work committed
    /// through other processes.
    #[arg(
        long,
        env = "HOOK_POLL_INTERVAL_MS",
        default_value_t = 1000,
        global = true
    )]
    pub hook_poll_interval_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct LaunchSettings {
    /// `Cache-Control: private, max-age=N` on launch answers.
    #[arg(
        long,
        env = "LAUNCH_CACHE_MAX_AGE_SECONDS",
        default_value_t = 0,
        global = true
    )]
    pub launch_cache_max_age_seconds: u32,
    /// Launch requests per client key per minute, counted in each process;
    /// 0 means no limit.
    #[arg(
        long,
        env = "LAUNCH_RATE_LIMIT_PER_MINUTE",
        default_value_t = 0,
        global = true
    )]
    pub launch_rate_limit_per_minute: u32,
    /// How often each process re-reads every launch policy, as a safety net
    /// behind the change notifications.
    #[arg(long, env = "LAUNCH_RESYNC_SECONDS", default_value_t = 60, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub launch_resync_seconds: u64,
}

/// Limits that keep one request from costing the service more than it should.
#[derive(Debug, Clone, Args)]
pub struct ApiSettings {
    /// The deepest nesting of fields a query may have.
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value_t = 12, global = true)]
    pub graphql_max_depth: usize,
    /// The largest cost of a query: each field costs 1, a list costs `first`
    /// times what each of its items costs.
    #[arg(
        long,
        env = "GRAPHQL_MAX_COMPLEXITY",
        default_value_t = 2500,
        global = true
    )]
    pub graphql_max_complexity: usize,
    /// The most aliased fields a document may have.
    #[arg(long, env = "GRAPHQL_MAX_ALIASES", default_value_t = 30, global = true)]
    pub graphql_max_aliases: usize,
    /// The most directives on one field.
    #[arg(
        long,
        env = "GRAPHQL_MAX_DIRECTIVES",
        default_value_t = 5,
        global = true
    )]
    pub graphql_max_directives: usize,
    /// Allow introspection and "did you mean" suggestions. Default: on in
    /// development mode only.
    #[arg(long, env = "GRAPHQL_INTROSPECTION", global = true)]
    pub graphql_introspection: Option<bool>,
    /// Serve GraphiQL at /graphiql. Default: on in development mode only
    /// (with introspection off, it has little to show).
    #[arg(long, env = "GRAPHIQL_ENABLED", global = true)]
    pub graphiql_enabled: Option<bool>,
    /// The largest request body accepted; larger ones get HTTP 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 65_536, global = true)]
    pub max_body_bytes: usize,
    /// How long one GraphQL request may run before it is stopped.
    #[arg(
        long,
        env = "REQUEST_TIMEOUT_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub request_timeout_ms: u64,
    /// Browser origins allowed to call the API (comma-separated); none by default.
    #[arg(
        long,
        env = "CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_allowed_origins: Vec<String>,
    /// Mutations per principal per minute, counted across all processes; 0 means no limit.
    #[arg(
        long,
        env = "RATE_LIMIT_MUTATIONS_PER_MINUTE",
        default_value_t = 600,
        global = true
    )]
    pub rate_limit_mutations_per_minute: u32,
    /// How long a connection may take to send a request's headers, counted
    /// from its first byte (or from the connection being accepted); slower
    /// ones are closed.
    #[arg(long, env = "HTTP_HEADER_TIMEOUT_SECONDS", default_value_t = 10, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_header_timeout_seconds: u64,
    /// How long a keep-alive connection may wait between requests.
    #[arg(long, env = "HTTP_IDLE_TIMEOUT_SECONDS", default_value_t = 60, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub http_idle_timeout_seconds: u64,
    /// The most connections open at once, WebSockets included; more wait to
    /// be accepted. Default: what the file-descriptor limit (raised to its
    /// hard limit) leaves after the database pool and the process's files.
    #[arg(long, env = "MAX_CONNECTIONS", global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// How long in-flight requests may take to finish after SIGTERM or SIGINT.
    #[arg(
        long,
        env = "SHUTDOWN_GRACE_SECONDS",
        default_value_t = 30,
        global = true
    )]
    pub shutdown_grace_seconds: u64,
    /// An Apollo persisted query manifest: the only operations that tokens
    /// holding nothing but `GRAPHQL_ALLOWLIST_ROLES` may run. Unset: no list.
    #[arg(long, env = "GRAPHQL_ALLOWLIST_FILE", global = true)]
    pub graphql_allowlist_file: Option<PathBuf>,
    /// The roles held to the allow-list (comma-separated): partner integrations.
    #[arg(
        long,
        env = "GRAPHQL_ALLOWLIST_ROLES",
        value_delimiter = ',',
        default_value = "RELEASE_APPROVER",
        value_parser = parse_role,
        global = true
    )]
    pub graphql_allowlist_roles: Vec<Role>,
}

/// GraphQL subscriptions over WebSocket (`graphql-transport-ws` on /graphql).
#[derive(Debug, Clone, Args)]
pub struct SubscriptionSettings {
    /// The most subscriptions one connection may run at once.
    #[arg(long, env = "SUBSCRIPTIONS_PER_CONNECTION", default_value_t = 20, global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub subscriptions_per_connection: u32,
    /// The most connections one token subject of one workspace may hold
    /// open on one process.
    #[arg(long, env = "SUBSCRIPTION_CONNECTIONS_PER_PRINCIPAL", default_value_t = 10, global = true, value_parser = clap::value_parser!(u32).range(1..))]
    pub subscription_connections_per_principal: u32,
    /// How often an idle connection is pinged; one that answers nothing for
    /// two intervals is closed as dead.
    #[arg(long, env = "SUBSCRIPTION_PING_SECONDS", default_value_t = 15, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub subscription_ping_seconds: u64,
    /// How long a new connection may take to send `connection_init`.
    #[arg(long, env = "SUBSCRIPTION_INIT_TIMEOUT_SECONDS", default_value_t = 10, global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub subscription_init_timeout_seconds: u64,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The workspace the token is for.
    #[arg(long)]
    pub workspace: String,
    /// A role to grant; repeat for several.
    #[arg(long = "role", required = true, value_parser = parse_role)]
    pub roles: Vec<Role>,
    /// Who the token names (`sub`).
    #[arg(long, default_value = "cli")]
    pub subject: String,
    /// How long the token is valid, e.g. `30m`, `12h`, `7d`.
    #[arg(long, default_value = "1h", value_parser = humantime::parse_duration)]
    pub ttl: Duration,
}

fn parse_role(name: &str) -> Result<Role, String> {
    Role::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|role| role.as_str()).collect();
        format!("unknown role {name:?}; one of {}", names.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serving_is_the_default() {
        let cli = Cli::try_parse_from(["update-mode", "--listen", "127.0.0.1:0"]).unwrap();
        assert!(cli.command.is_none());
        assert_eq!(cli.serve.listen.port(), 0);
    }

    #[test]
    fn one_key_source_at_a_time() {
        let both = Cli::try_parse_from([
            "update-mode",
            "--jwt-secret",
            "0123456789abcdef0123456789abcdef",
            "--jwt-jwks-url",
            "https://idp.example.test/jwks.json",
        ]);
        assert!(both.is_err());
        let jwks = Cli::try_parse_from([
            "update-mode",
            "--jwt-jwks-url",
            "https://idp.example.test/jwks.json",
        ])
        .unwrap();
        assert!(!jwks.auth.development_mode());
    }

    #[test]
    fn tokens_need_known_roles() {
        let cli = Cli::try_parse_from([
            "update-mode",
            "token",
            "--workspace",
            "w",
            "--role",
            "VIEWER",
            "--role",
            "DEVELOPER",
            "--ttl",
            "2h",
        ])
        .unwrap();
        let Some(Command::Token(args)) = cli.command else {
            panic!("not a token command");
        };
        assert_eq!(args.roles, [Role::Viewer, Role::Developer]);
        assert_eq!(args.ttl, Duration::from_secs(7200));
        assert!(
            Cli::try_parse_from(["update-mode", "token", "--workspace", "w", "--role", "ROOT"])
                .is_err()
        );
    }
}
