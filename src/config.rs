//! Every setting, typed, from command-line flags or the environment.

use std::fmt;
use std::net::SocketAddr;
use std::ops::RangeBounds;
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
    args_conflicts_with_subcommands = true,
    after_help = "Durations are a number in the unit their name says (REQUEST_TIMEOUT_MS=10000, \
        SHUTDOWN_GRACE_SECONDS=30) or a humantime string (10s, 2m, 500ms), in whole units."
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
    #[arg(long = "jwt-jwks-refresh-seconds", env = "JWT_JWKS_REFRESH_SECONDS", default_value = "300", global = true, value_name = "DURATION", value_parser = seconds(1..))]
    pub jwt_jwks_refresh: Duration,
    /// The least time between two JWKS fetches caused by tokens naming an
    /// unknown `kid`, in seconds.
    #[arg(long = "jwt-jwks-cooldown-seconds", env = "JWT_JWKS_COOLDOWN_SECONDS", default_value = "30", global = true, value_name = "DURATION", value_parser = seconds(..))]
    pub jwt_jwks_cooldown: Duration,
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
    #[arg(long = "jwt-leeway-seconds", env = "JWT_LEEWAY_SECONDS", default_value = "30", global = true, value_name = "DURATION", value_parser = seconds(..))]
    pub jwt_leeway: Duration,
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
    #[arg(long = "hook-guard-timeout-ms", env = "HOOK_GUARD_TIMEOUT_MS", default_value = "2000", global = true, value_name = "DURATION", value_parser = millis(..))]
    pub hook_guard_timeout: Duration,
    /// Attempts per webhook delivery before it is FAILED.
    #[arg(long, env = "WEBHOOK_MAX_ATTEMPTS", default_value_t = 8, global = true, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub webhook_max_attempts: u32,
    /// The wait after the first failed attempt, doubling per attempt.
    #[arg(long = "webhook-retry-base-ms", env = "WEBHOOK_RETRY_BASE_MS", default_value = "1000", global = true, value_name = "DURATION", value_parser = millis(..))]
    pub webhook_retry_base: Duration,
    /// The longest wait between two attempts.
    #[arg(long = "webhook-retry-max-ms", env = "WEBHOOK_RETRY_MAX_MS", default_value = "3600000", global = true, value_name = "DURATION", value_parser = millis(..))]
    pub webhook_retry_max: Duration,
    /// How long a receiver may take to answer.
    #[arg(long = "webhook-timeout-ms", env = "WEBHOOK_TIMEOUT_MS", default_value = "10000", global = true, value_name = "DURATION", value_parser = millis(..))]
    pub webhook_timeout: Duration,
    /// Allow webhook targets on loopback, private, link-local and metadata
    /// addresses. Default: true in development mode, false otherwise.
    #[arg(long, env = "WEBHOOK_ALLOW_PRIVATE_TARGETS", global = true)]
    pub webhook_allow_private_targets: Option<bool>,
    /// How long a process holds a claimed delivery before another may take it over.
    #[arg(long = "hook-lease-ms", env = "HOOK_LEASE_MS", default_value = "60000", global = true, value_name = "DURATION", value_parser = millis(..))]
    pub hook_lease: Duration,
    /// The longest the dispatcher waits before looking for work committed
    /// through other processes.
    #[arg(long = "hook-poll-interval-ms", env = "HOOK_POLL_INTERVAL_MS", default_value = "1000", global = true, value_name = "DURATION", value_parser = millis(..))]
    pub hook_poll_interval: Duration,
    /// How long a release gate may take to answer; past it the change is
    /// refused (fail closed).
    #[arg(long = "release-gate-timeout-ms", env = "RELEASE_GATE_TIMEOUT_MS", default_value = "3000", global = true, value_name = "DURATION", value_parser = millis(1..))]
    pub release_gate_timeout: Duration,
    /// The longest the scheduler waits before looking for rollout steps
    /// that fell due through other processes.
    #[arg(long = "scheduler-poll-interval-ms", env = "SCHEDULER_POLL_INTERVAL_MS", default_value = "1000", global = true, value_name = "DURATION", value_parser = millis(1..))]
    pub scheduler_poll_interval: Duration,
}

#[derive(Debug, Clone, Args)]
pub struct LaunchSettings {
    /// `Cache-Control: private, max-age=N` on launch answers.
    #[arg(long = "launch-cache-max-age-seconds", env = "LAUNCH_CACHE_MAX_AGE_SECONDS", default_value = "0", global = true, value_name = "DURATION", value_parser = seconds(..=u64::from(u32::MAX)))]
    pub launch_cache_max_age: Duration,
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
    #[arg(long = "launch-resync-seconds", env = "LAUNCH_RESYNC_SECONDS", default_value = "60", global = true, value_name = "DURATION", value_parser = seconds(1..))]
    pub launch_resync: Duration,
    /// An Ed25519 private key (PKCS#8 PEM) that signs every launch answer
    /// (`x-launch-signature`); unset: answers are not signed.
    #[arg(
        long,
        env = "LAUNCH_SIGNING_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub launch_signing_key_file: Option<std::path::PathBuf>,
    /// The signing key being rotated away from: still published in
    /// `/v1/launch/keys`, no longer used to sign.
    #[arg(
        long,
        env = "LAUNCH_SIGNING_PREVIOUS_KEY_FILE",
        global = true,
        value_name = "PATH"
    )]
    pub launch_signing_previous_key_file: Option<std::path::PathBuf>,
    /// Whether launch answers are counted as device check-ins (adoption and
    /// impact previews); off, nothing is counted or stored.
    #[arg(long, env = "CHECKIN_COUNTING", default_value_t = true, global = true, action = clap::ArgAction::Set)]
    pub checkin_counting: bool,
    /// How often each process adds the check-ins it counted to the
    /// database (and at a graceful stop); a crash loses at most this long.
    #[arg(long = "checkin-flush-seconds", env = "CHECKIN_FLUSH_SECONDS", default_value = "10", global = true, value_name = "DURATION", value_parser = seconds(1..=3600))]
    pub checkin_flush: Duration,
    /// Days of check-ins kept; the server deletes older hours.
    #[arg(long, env = "CHECKIN_RETENTION_DAYS", default_value_t = 30, global = true, value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub checkin_retention_days: u32,
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
    /// The deepest nesting of fields under `__schema` or `__type`, counted
    /// apart from `GRAPHQL_MAX_DEPTH` where introspection is on: the standard
    /// introspection query (graphql-js `getIntrospectionQuery()`) needs 14.
    #[arg(
        long,
        env = "GRAPHQL_MAX_INTROSPECTION_DEPTH",
        default_value_t = 16,
        global = true
    )]
    pub graphql_max_introspection_depth: usize,
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
    #[arg(long = "request-timeout-ms", env = "REQUEST_TIMEOUT_MS", default_value = "10000", global = true, value_name = "DURATION", value_parser = millis(..))]
    pub request_timeout: Duration,
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
    #[arg(long = "http-header-timeout-seconds", env = "HTTP_HEADER_TIMEOUT_SECONDS", default_value = "10", global = true, value_name = "DURATION", value_parser = seconds(1..))]
    pub http_header_timeout: Duration,
    /// How long a keep-alive connection may wait between requests.
    #[arg(long = "http-idle-timeout-seconds", env = "HTTP_IDLE_TIMEOUT_SECONDS", default_value = "60", global = true, value_name = "DURATION", value_parser = seconds(1..))]
    pub http_idle_timeout: Duration,
    /// The most connections open at once, WebSockets included; more wait to
    /// be accepted. Default: what the file-descriptor limit (raised to its
    /// hard limit) leaves after the database pool and the process's files.
    #[arg(long, env = "MAX_CONNECTIONS", global = true, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: Option<u64>,
    /// How long in-flight requests may take to finish after SIGTERM or SIGINT.
    #[arg(long = "shutdown-grace-seconds", env = "SHUTDOWN_GRACE_SECONDS", default_value = "30", global = true, value_name = "DURATION", value_parser = seconds(..))]
    pub shutdown_grace: Duration,
    /// Persisted documents that nobody used for this long are removed.
    #[arg(long = "persisted-query-ttl-days", env = "PERSISTED_QUERY_TTL_DAYS", default_value = "30", global = true, value_name = "DURATION", value_parser = days(1..))]
    pub persisted_query_ttl: Duration,
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
    #[arg(long = "subscription-ping-seconds", env = "SUBSCRIPTION_PING_SECONDS", default_value = "15", global = true, value_name = "DURATION", value_parser = seconds(1..))]
    pub subscription_ping: Duration,
    /// How long a new connection may take to send `connection_init`.
    #[arg(long = "subscription-init-timeout-seconds", env = "SUBSCRIPTION_INIT_TIMEOUT_SECONDS", default_value = "10", global = true, value_name = "DURATION", value_parser = seconds(1..))]
    pub subscription_init_timeout: Duration,
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

/// The unit a duration setting's name ends in (`_MS`, `_SECONDS`).
#[derive(Debug, Clone, Copy)]
enum Unit {
    Milliseconds,
    Seconds,
    Days,
}

impl Unit {
    fn times(self, count: u64) -> Duration {
        match self {
            Unit::Milliseconds => Duration::from_millis(count),
            Unit::Seconds => Duration::from_secs(count),
            Unit::Days => Duration::from_secs(count.saturating_mul(DAY_SECONDS)),
        }
    }

    /// How many whole units `duration` is; `None` when it has a remainder
    /// (that the setting would silently drop) or is too long to count.
    fn count(self, duration: Duration) -> Option<u64> {
        let (nanos_per_unit, count) = match self {
            Unit::Milliseconds => (1_000_000, duration.as_millis()),
            Unit::Seconds => (1_000_000_000, u128::from(duration.as_secs())),
            Unit::Days => (
                1_000_000_000 * u128::from(DAY_SECONDS),
                u128::from(duration.as_secs() / DAY_SECONDS),
            ),
        };
        if duration.as_nanos() % nanos_per_unit != 0 {
            return None;
        }
        u64::try_from(count).ok()
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unit::Milliseconds => "milliseconds",
            Unit::Seconds => "seconds",
            Unit::Days => "days",
        })
    }
}

const DAY_SECONDS: u64 = 24 * 3600;

/// Reads a duration setting named in days; `range` bounds the count.
fn days(
    range: impl RangeBounds<u64> + fmt::Debug + Clone + Send + Sync + 'static,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| parse_duration(text, Unit::Days, &range)
}

/// Reads a duration setting named in milliseconds; `range` bounds the count.
fn millis(
    range: impl RangeBounds<u64> + fmt::Debug + Clone + Send + Sync + 'static,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| parse_duration(text, Unit::Milliseconds, &range)
}

/// Reads a duration setting named in seconds; `range` bounds the count.
fn seconds(
    range: impl RangeBounds<u64> + fmt::Debug + Clone + Send + Sync + 'static,
) -> impl Fn(&str) -> Result<Duration, String> + Clone + Send + Sync + 'static {
    move |text| parse_duration(text, Unit::Seconds, &range)
}

/// A bare integer counts `unit`s, as these settings always did; anything
/// else is read by humantime (`10s`, `2m`, `500ms`) and must come to whole
/// `unit`s within `range`.
fn parse_duration(
    text: &str,
    unit: Unit,
    range: &(impl RangeBounds<u64> + fmt::Debug),
) -> Result<Duration, String> {
    let duration = match text.parse::<u64>() {
        Ok(count) => unit.times(count),
        Err(_) => humantime::parse_duration(text).map_err(|error| {
            format!("{text:?} is neither a number of {unit} nor a duration like 10s, 2m or 500ms ({error})")
        })?,
    };
    let count = unit
        .count(duration)
        .ok_or_else(|| format!("{text:?} is not a whole number of {unit}"))?;
    if !range.contains(&count) {
        return Err(format!("{count} is not in {range:?} ({unit})"));
    }
    Ok(duration)
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

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("update-mode").chain(args.iter().copied()))
    }

    #[test]
    fn durations_default_to_what_their_settings_always_said() {
        let cli = parse(&[]).unwrap();
        let (auth, hooks, launch, api, subscriptions) =
            (cli.auth, cli.hooks, cli.launch, cli.api, cli.subscriptions);
        assert_eq!(auth.jwt_jwks_refresh, Duration::from_secs(300));
        assert_eq!(auth.jwt_jwks_cooldown, Duration::from_secs(30));
        assert_eq!(auth.jwt_leeway, crate::auth::DEFAULT_LEEWAY);
        assert_eq!(hooks.hook_guard_timeout, Duration::from_millis(2000));
        assert_eq!(hooks.webhook_retry_base, Duration::from_millis(1000));
        assert_eq!(hooks.webhook_retry_max, Duration::from_secs(3600));
        assert_eq!(hooks.webhook_timeout, Duration::from_secs(10));
        assert_eq!(hooks.hook_lease, Duration::from_secs(60));
        assert_eq!(hooks.hook_poll_interval, Duration::from_secs(1));
        assert_eq!(hooks.release_gate_timeout, Duration::from_secs(3));
        assert_eq!(hooks.scheduler_poll_interval, Duration::from_secs(1));
        assert_eq!(launch.launch_cache_max_age, Duration::ZERO);
        assert_eq!(launch.launch_resync, Duration::from_secs(60));
        assert_eq!(api.request_timeout, Duration::from_secs(10));
        assert_eq!(api.http_header_timeout, Duration::from_secs(10));
        assert_eq!(api.http_idle_timeout, Duration::from_secs(60));
        assert_eq!(api.shutdown_grace, Duration::from_secs(30));
        assert_eq!(subscriptions.subscription_ping, Duration::from_secs(15));
        assert_eq!(
            subscriptions.subscription_init_timeout,
            Duration::from_secs(10)
        );
    }

    #[test]
    fn a_duration_is_a_count_of_its_names_unit_or_a_humantime_string() {
        let read = |flag: &str, value: &str| {
            let cli = parse(&[flag, value]).unwrap();
            match flag {
                "--request-timeout-ms" => cli.api.request_timeout,
                "--shutdown-grace-seconds" => cli.api.shutdown_grace,
                "--http-idle-timeout-seconds" => cli.api.http_idle_timeout,
                _ => unreachable!("{flag}"),
            }
        };
        assert_eq!(
            read("--request-timeout-ms", "10000"),
            Duration::from_secs(10)
        );
        assert_eq!(read("--request-timeout-ms", "10s"), Duration::from_secs(10));
        assert_eq!(
            read("--request-timeout-ms", "500ms"),
            Duration::from_millis(500)
        );
        assert_eq!(read("--request-timeout-ms", "0"), Duration::ZERO);
        assert_eq!(
            read("--shutdown-grace-seconds", "30"),
            Duration::from_secs(30)
        );
        assert_eq!(
            read("--shutdown-grace-seconds", "2m"),
            Duration::from_secs(120)
        );
        assert_eq!(
            read("--http-idle-timeout-seconds", "1h 30s"),
            Duration::from_secs(3630)
        );
    }

    #[test]
    fn durations_are_refused_where_their_counts_always_were() {
        for refused in [
            ["--http-header-timeout-seconds", "0"],
            ["--http-header-timeout-seconds", "0s"],
            ["--subscription-ping-seconds", "0ms"],
            ["--launch-resync-seconds", "0"],
            ["--jwt-jwks-refresh-seconds", "0"],
            ["--launch-cache-max-age-seconds", "4294967296"],
            ["--request-timeout-ms", "-1"],
            ["--request-timeout-ms", "soon"],
            // A fraction the setting would drop is refused, not rounded.
            ["--http-idle-timeout-seconds", "1500ms"],
            ["--request-timeout-ms", "1us"],
        ] {
            assert!(parse(&refused).is_err(), "{refused:?}");
        }
        let cli = parse(&["--launch-cache-max-age-seconds", "4294967295"]).unwrap();
        assert_eq!(
            cli.launch.launch_cache_max_age.as_secs(),
            u64::from(u32::MAX)
        );
        let cli = parse(&["--jwt-leeway-seconds", "0", "--shutdown-grace-seconds", "0"]).unwrap();
        assert_eq!(cli.auth.jwt_leeway, Duration::ZERO);
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
