//! What each command does: wires configuration, storage, authentication,
//! hooks and HTTP together. `start` is also the entry point for embedding the
//! server with plugins of one's own.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::extensions::ExtensionFactory;
use axum::http::HeaderValue;
use tokio::net::TcpListener;

use crate::auth::{
    ClaimNames, JwtSettings, KeyRefresh, KeySource, TokenIssuer, TokenVerifier,
    load_or_create_dev_secret, parse_role_map,
};
use crate::check_ins::{CheckIns, Flusher};
use crate::config::{
    ApiSettings, AuthSettings, DatabaseSettings, HookSettings, LaunchSettings, ServeArgs,
    SubscriptionSettings, TokenArgs,
};
use crate::db::{Database, DatabaseLocation};
use crate::domain::{Role, TargetPolicy};
use crate::graphql::QueryLimits;
use crate::hooks::gates::ReleaseGates;
use crate::hooks::webhooks::WebhookSender;
use crate::hooks::{DispatchSettings, Dispatcher, GuardHook, HookRegistry, NotifyHook};
use crate::http::{
    AppState, BodyLimit, ConnectionLimits, Connections, LaunchCaching, LimitedListener, Metrics,
    MutationLimit, OpenConnections, PerConnection, RequestTimeout, RouterSettings, Stopping,
    SubscriptionLimits, router,
};
use crate::launch::{LaunchLimiter, LaunchPolicies, LaunchSigner, follow_changes};
use crate::live::{LiveEvents, follow_outbox};
use crate::scheduler::Scheduler;
use crate::service::Services;
use crate::service::demo::{self, DEMO_WORKSPACE};
use crate::service::persisted_queries::{AllowList, PersistedQueries};

/// Why a command could not run; shown to the operator as is.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// How long the token printed at a development start stays valid.
const PRINTED_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

/// Everything `serve` is configured with.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub serve: ServeArgs,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub hooks: HookSettings,
    pub launch: LaunchSettings,
    pub api: ApiSettings,
    pub subscriptions: SubscriptionSettings,
}

/// Plugins compiled into this server, besides the built-in webhooks.
#[derive(Default, Clone)]
pub struct Plugins {
    pub guards: Vec<Arc<dyn GuardHook>>,
    pub notifiers: Vec<Arc<dyn NotifyHook>>,
    /// async-graphql extensions run on every request (e.g. OpenTelemetry
    /// tracing), after the built-in limits.
    pub extensions: Vec<Arc<dyn ExtensionFactory>>,
}

/// A server that is listening and delivering, until it is stopped.
pub struct Server {
    address: SocketAddr,
    listener: LimitedListener,
    state: AppState,
    router: RouterSettings,
    shutdown_grace: Duration,
    dispatcher: Dispatcher,
    scheduler: Scheduler,
    check_ins: Flusher,
    /// On PostgreSQL: the snapshot to keep in step, and where to listen.
    follower: Option<(Arc<LaunchPolicies>, String, Duration)>,
    services: Services,
    stopping: tokio::sync::watch::Sender<bool>,
    db: Database,
    dev_token: Option<String>,
}

/// Prepares the database, binds the listener and builds the hook registry.
pub async fn start(settings: ServerSettings, plugins: Plugins) -> Result<Server, StartError> {
    let dev_mode = settings.auth.development_mode();
    let jwt = jwt_settings(&settings.database, &settings.auth)?;
    let verifier = TokenVerifier::load(&jwt).await?;
    let allow_list = allow_list(&settings.api)?;
    let launch_signer = launch_signer(&settings.launch)?;
    let db = connect(&settings.database)?;
    if settings.serve.skip_migrations {
        tracing::info!("skipping migrations");
    } else {
        migrate(&db).await?;
    }
    let hooks = &settings.hooks;
    let mut registry = HookRegistry::new(hooks.hook_guard_timeout);
    for guard in plugins.guards {
        registry = registry.with_guard(guard);
    }
    for notifier in plugins.notifiers {
        registry = registry.with_notifier(notifier);
    }
    let launch = LaunchPolicies::start(db.clone()).await?;
    let check_ins = Flusher {
        check_ins: Arc::new(CheckIns::new(settings.launch.checkin_counting)),
        db: db.clone(),
        every: settings.launch.checkin_flush,
        retention_days: settings.launch.checkin_retention_days,
    };
    let targets = TargetPolicy {
        allow_private: hooks.webhook_allow_private_targets.unwrap_or(dev_mode),
    };
    let services = Services {
        db: db.clone(),
        hooks: Arc::new(registry),
        gates: ReleaseGates::new(WebhookSender::new(hooks.release_gate_timeout, targets)?),
        launch: launch.clone(),
        live: Arc::new(LiveEvents::default()),
        targets,
        schedule: Arc::new(tokio::sync::watch::Sender::new(0)),
    };
    let follower = match db.location() {
        DatabaseLocation::Postgres(url) => {
            Some((launch.clone(), url.clone(), settings.launch.launch_resync))
        }
        DatabaseLocation::Sqlite(_) => None,
    };
    let webhooks = WebhookSender::new(hooks.webhook_timeout, targets)?;
    let dispatcher = Dispatcher::new(
        db.clone(),
        services.hooks.clone(),
        webhooks,
        dispatch_settings(hooks),
    );
    let scheduler = Scheduler::new(
        services.clone(),
        hooks.release_gate_timeout,
        hooks.scheduler_poll_interval,
    );

    let dev_issuer = TokenIssuer::new(&jwt).filter(|_| dev_mode);
    let dev_token = if let Some(issuer) = &dev_issuer {
        if demo::seed_if_empty(&services)
            .await
            .map_err(|error| format!("seeding the demo workspace failed: {error:?}"))?
        {
            tracing::info!(workspace = DEMO_WORKSPACE, "seeded the demo workspace");
        }
        let token = issuer.mint(
            "demo-admin",
            DEMO_WORKSPACE,
            &[Role::WorkspaceAdmin],
            PRINTED_TOKEN_TTL,
        )?;
        Some(token)
    } else {
        None
    };
    let api = &settings.api;
    let connection_limits = ConnectionLimits {
        header_timeout: api.http_header_timeout,
        idle_timeout: api.http_idle_timeout,
        max: api.max_connections.map_or_else(
            || crate::http::default_max(usize::from(settings.database.database_pool_size)),
            |max| usize::try_from(max).unwrap_or(usize::MAX),
        ),
    };
    let open_connections = Arc::new(OpenConnections::new(connection_limits.max));
    let listener = TcpListener::bind(settings.serve.listen).await?;
    let address = listener.local_addr()?;
    let listener = LimitedListener::new(listener, open_connections.clone(), connection_limits);
    let limits = query_limits(api, dev_mode);
    let cors_allowed_origins = cors_origins(api)?;
    let persisted_queries = Arc::new(PersistedQueries::new(
        db.clone(),
        allow_list,
        api.persisted_query_ttl,
    ));
    let subscriptions = &settings.subscriptions;
    let (stopping, stopping_watch) = tokio::sync::watch::channel(false);
    let state = AppState {
        subscription_limits: SubscriptionLimits {
            per_connection: subscriptions.subscriptions_per_connection as usize,
            ping: subscriptions.subscription_ping,
            init_timeout: subscriptions.subscription_init_timeout,
        },
        connections: Connections::new(
            subscriptions.subscription_connections_per_principal as usize,
        ),
        open_connections,
        stopping: Stopping(stopping_watch),
        schema: crate::graphql::schema(services.clone(), limits, plugins.extensions),
        document_limits: limits.document(),
        services: services.clone(),
        mutation_limit: MutationLimit(api.rate_limit_mutations_per_minute),
        metrics: Arc::new(Metrics::new()?),
        verifier,
        db: db.clone(),
        dev_issuer,
        launch,
        launch_caching: LaunchCaching {
            max_age: settings.launch.launch_cache_max_age,
        },
        launch_limiter: Arc::new(LaunchLimiter::new(
            settings.launch.launch_rate_limit_per_minute,
        )),
        launch_signer,
        check_ins: check_ins.check_ins.clone(),
        request_timeout: RequestTimeout(api.request_timeout),
        body_limit: BodyLimit(api.max_body_bytes),
        persisted_queries,
    };
    Ok(Server {
        address,
        listener,
        state,
        router: RouterSettings {
            graphiql: api.graphiql_enabled.unwrap_or(dev_mode),
            cors_allowed_origins,
        },
        shutdown_grace: api.shutdown_grace,
        dispatcher,
        scheduler,
        check_ins,
        follower,
        services,
        stopping,
        db,
        dev_token,
    })
}

impl Server {
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The server's database, e.g. to read how many statements it ran.
    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        tracing::info!(address = %self.address, "listening");
        let dispatcher = tokio::spawn(self.dispatcher.run());
        let scheduler = tokio::spawn(self.scheduler.run());
        let (stop_flushing, flushing_stopped) = tokio::sync::oneshot::channel();
        let check_ins = tokio::spawn(self.check_ins.run(flushing_stopped));
        let key_refresh = tokio::spawn(self.state.verifier.key_ring().refresh_periodically());
        let launch_keys = tokio::spawn(self.state.launch_limiter.clone().forget_idle_keys());
        let metrics_upkeep = tokio::spawn(self.state.metrics.clone().run_upkeep_periodically());
        let follower = self
            .follower
            .map(|(launch, url, resync)| tokio::spawn(follow_changes(launch, url, resync)));
        let live = tokio::spawn(follow_outbox(
            self.services.live.clone(),
            self.db.clone(),
            self.services.hooks.commits(),
        ));
        let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
        let closing_connections = self.stopping;
        let shutdown = async move {
            shutdown.await;
            // Upgraded connections are not waited for: they are told to go.
            let _ = closing_connections.send(true);
            let _ = stopping.send(());
        };
        let serving = axum::serve(
            self.listener,
            PerConnection(router(self.state, self.router)),
        )
        .with_graceful_shutdown(shutdown)
        .into_future();
        let grace = self.shutdown_grace;
        let served = tokio::select! {
            served = serving => served,
            _ = async move {
                if stopped.await.is_ok() {
                    tokio::time::sleep(grace).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!(grace_seconds = grace.as_secs(), "in-flight requests outlasted the grace period");
                Ok(())
            }
        };
        // Every request has been answered: the last check-ins are flushed.
        let _ = stop_flushing.send(());
        if let Err(error) = check_ins.await {
            tracing::warn!(%error, "the check-in flusher failed");
        }
        // Deliveries in flight are taken over after their lease: at least
        // once. A rollout step in flight either committed or is applied by
        // whichever process claims it after its lease: exactly once.
        dispatcher.abort();
        scheduler.abort();
        key_refresh.abort();
        launch_keys.abort();
        metrics_upkeep.abort();
        live.abort();
        if let Some(follower) = follower {
            follower.abort();
        }
        served
    }
}

/// The signer of launch answers, when a key is configured; a previous key
/// alone is a mistake, refused before anything starts.
fn launch_signer(launch: &LaunchSettings) -> Result<Option<Arc<LaunchSigner>>, StartError> {
    match (
        &launch.launch_signing_key_file,
        &launch.launch_signing_previous_key_file,
    ) {
        (Some(current), previous) => Ok(Some(Arc::new(LaunchSigner::load(
            current,
            previous.as_deref(),
        )?))),
        (None, Some(_)) => Err(
            "LAUNCH_SIGNING_PREVIOUS_KEY_FILE is set without LAUNCH_SIGNING_KEY_FILE: \
             a rotation needs the new key"
                .into(),
        ),
        (None, None) => Ok(None),
    }
}

pub async fn serve(settings: ServerSettings) -> Result<(), StartError> {
    let server = start(settings, Plugins::default()).await?;
    let base_url = format!("http://{}", server.address());
    if let Some(token) = &server.dev_token {
        println!(
            "Development mode: no signing key is configured, so tokens are signed with a local secret."
        );
        println!("Console: {base_url}/console/ (fills in a demo admin token)");
        println!("GraphiQL: {base_url}/graphiql (opens with a demo admin token)");
        println!("WORKSPACE_ADMIN token for workspace \"{DEMO_WORKSPACE}\", valid 30 days:");
        println!("{token}");
    }
    println!("update-mode listening on {base_url}");
    server.run_until(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

pub async fn migrate_command(database: DatabaseSettings) -> Result<(), StartError> {
    let db = connect(&database)?;
    migrate(&db).await
}

pub fn token_command(
    args: TokenArgs,
    database: DatabaseSettings,
    auth: AuthSettings,
) -> Result<(), StartError> {
    let jwt = jwt_settings(&database, &auth)?;
    let issuer = TokenIssuer::new(&jwt).ok_or(
        "tokens are minted with JWT_SECRET; with public keys, your identity provider issues them",
    )?;
    let token = issuer.mint(&args.subject, &args.workspace, &args.roles, args.ttl)?;
    println!("{token}");
    Ok(())
}

fn connect(database: &DatabaseSettings) -> Result<Database, StartError> {
    let location = DatabaseLocation::parse(&database.database_url)?;
    tracing::info!(database = %location.describe(), "using database");
    Ok(Database::connect(
        location,
        usize::from(database.database_pool_size),
    )?)
}

async fn migrate(db: &Database) -> Result<(), StartError> {
    let applied = db.migrate().await?;
    if applied.is_empty() {
        tracing::info!("database schema is up to date");
    } else {
        tracing::info!(?applied, "applied migrations");
    }
    Ok(())
}

fn dispatch_settings(hooks: &HookSettings) -> DispatchSettings {
    DispatchSettings {
        max_attempts: hooks.webhook_max_attempts,
        retry_base: hooks.webhook_retry_base,
        retry_cap: hooks.webhook_retry_max,
        lease: hooks.hook_lease,
        poll_interval: hooks.hook_poll_interval,
        batch: 32,
    }
}

/// Introspection is on by default only in development mode.
fn query_limits(api: &ApiSettings, dev_mode: bool) -> QueryLimits {
    QueryLimits {
        depth: api.graphql_max_depth,
        complexity: api.graphql_max_complexity,
        aliases: api.graphql_max_aliases,
        directives: api.graphql_max_directives,
        recursion: 32,
        introspection: api.graphql_introspection.unwrap_or(dev_mode),
        introspection_depth: api.graphql_max_introspection_depth,
    }
}

fn cors_origins(api: &ApiSettings) -> Result<Vec<HeaderValue>, StartError> {
    api.cors_allowed_origins
        .iter()
        .filter(|origin| !origin.trim().is_empty())
        .map(|origin| {
            HeaderValue::from_str(origin.trim()).map_err(|_| {
                format!("CORS_ALLOWED_ORIGINS: {origin:?} is not a valid origin").into()
            })
        })
        .collect()
}

fn allow_list(api: &ApiSettings) -> Result<Option<AllowList>, StartError> {
    let Some(path) = &api.graphql_allowlist_file else {
        return Ok(None);
    };
    let manifest = std::fs::read(path)
        .map_err(|error| format!("GRAPHQL_ALLOWLIST_FILE {}: {error}", path.display()))?;
    let roles = api.graphql_allowlist_roles.iter().copied().collect();
    let list = AllowList::from_manifest(&manifest, roles)
        .map_err(|error| format!("GRAPHQL_ALLOWLIST_FILE {}: {error}", path.display()))?;
    Ok(Some(list))
}

/// The configured keys, or in development mode the local secret.
fn jwt_settings(
    database: &DatabaseSettings,
    auth: &AuthSettings,
) -> Result<JwtSettings, StartError> {
    let keys = if let Some(secret) = &auth.jwt_secret {
        KeySource::Secret(secret.as_bytes().to_vec())
    } else if let Some(path) = &auth.jwt_public_key_file {
        KeySource::PublicKeyFile(path.clone())
    } else if let Some(path) = &auth.jwt_jwks_file {
        KeySource::JwksFile(path.clone())
    } else if let Some(url) = &auth.jwt_jwks_url {
        KeySource::JwksUrl(url.clone())
    } else {
        KeySource::Secret(
            load_or_create_dev_secret(&database.data_dir).map_err(|error| {
                format!(
                    "cannot keep the development secret in {}: {error}",
                    database.data_dir.display()
                )
            })?,
        )
    };
    let claims = ClaimNames {
        workspace: auth.jwt_workspace_claim.clone(),
        roles: auth.jwt_roles_claim.clone(),
        role_map: parse_role_map(&auth.jwt_role_map)?,
    };
    let refresh = KeyRefresh {
        every: auth.jwt_jwks_refresh,
        cooldown: auth.jwt_jwks_cooldown,
    };
    Ok(
        JwtSettings::new(keys, auth.jwt_issuer.clone(), auth.jwt_audience.clone())?
            .with_claims(claims, auth.jwt_leeway)
            .with_refresh(refresh),
    )
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
