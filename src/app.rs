//! What each command does: wires configuration, storage, authentication and
//! HTTP together.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::auth::{JwtSettings, TokenIssuer, TokenVerifier, load_or_create_dev_secret};
use crate::config::{AuthSettings, DatabaseSettings, ServeArgs, TokenArgs};
use crate::db::{Database, DatabaseLocation};
use crate::domain::Role;
use crate::http::{AppState, router};
use crate::service::demo::{self, DEMO_WORKSPACE};

/// Why a command could not run; shown to the operator as is.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;

/// How long the token printed at a development start stays valid.
const PRINTED_TOKEN_TTL: Duration = Duration::from_secs(30 * 24 * 3600);

pub async fn serve(
    args: ServeArgs,
    database: DatabaseSettings,
    auth: AuthSettings,
) -> Result<(), StartError> {
    let dev_mode = auth.jwt_secret.is_none();
    let jwt = jwt_settings(&database, &auth)?;
    let db = connect(&database)?;
    if args.skip_migrations {
        tracing::info!("skipping migrations");
    } else {
        migrate(&db).await?;
    }
    let listener = TcpListener::bind(args.listen).await?;
    let address = listener.local_addr()?;
    let base_url = format!("http://{address}");

    let dev_issuer = if dev_mode {
        if demo::seed_if_empty(&db)
            .await
            .map_err(|error| format!("seeding the demo workspace failed: {error:?}"))?
        {
            tracing::info!(workspace = DEMO_WORKSPACE, "seeded the demo workspace");
        }
        let issuer = TokenIssuer::new(&jwt);
        let token = issuer.mint(
            "demo-admin",
            DEMO_WORKSPACE,
            &[Role::WorkspaceAdmin],
            PRINTED_TOKEN_TTL,
        )?;
        println!(
            "Development mode: JWT_SECRET is not set, so tokens are signed with a local secret."
        );
        println!("GraphiQL: {base_url}/graphiql (opens with a demo admin token)");
        println!("WORKSPACE_ADMIN token for workspace \"{DEMO_WORKSPACE}\", valid 30 days:");
        println!("{token}");
        Some(issuer)
    } else {
        None
    };

    let state = AppState {
        schema: crate::graphql::schema(db.clone()),
        verifier: TokenVerifier::new(&jwt),
        db,
        dev_issuer,
    };
    tracing::info!(%address, "listening");
    println!("update-mode listening on {base_url}");
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
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
    let token =
        TokenIssuer::new(&jwt).mint(&args.subject, &args.workspace, &args.roles, args.ttl)?;
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

/// The configured secret, or in development mode the local one.
fn jwt_settings(
    database: &DatabaseSettings,
    auth: &AuthSettings,
) -> Result<JwtSettings, StartError> {
    let secret = match &auth.jwt_secret {
        Some(secret) => secret.as_bytes().to_vec(),
        None => load_or_create_dev_secret(&database.data_dir).map_err(|error| {
            format!(
                "cannot keep the development secret in {}: {error}",
                database.data_dir.display()
            )
        })?,
    };
    Ok(JwtSettings::new(
        secret,
        auth.jwt_issuer.clone(),
        auth.jwt_audience.clone(),
    )?)
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
