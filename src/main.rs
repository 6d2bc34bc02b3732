use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;
use update_mode::app::{self, ServerSettings};
use update_mode::config::{Cli, Command};

/// glibc's allocator serialized the worker threads on its arena locks under
/// load (perf: a sixth of the list page's time in malloc and free, with lock
/// waits); mimalloc keeps per-thread heaps.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    if cli.log_format == "json" {
        logs.json()
            .with_current_span(true)
            .with_span_list(false)
            .init();
    } else {
        logs.init();
    }
    let result = match cli.command {
        Some(Command::Migrate) => app::migrate_command(cli.database).await,
        Some(Command::Schema) => {
            print!("{}", update_mode::graphql::sdl());
            Ok(())
        }
        Some(Command::Token(args)) => app::token_command(args, cli.database, cli.auth),
        serve => {
            let serve = match serve {
                Some(Command::Serve(args)) => args,
                _ => cli.serve,
            };
            let settings = ServerSettings {
                serve,
                database: cli.database,
                auth: cli.auth,
                hooks: cli.hooks,
                launch: cli.launch,
                api: cli.api,
                subscriptions: cli.subscriptions,
            };
            app::serve(settings).await
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("update-mode: {error}");
            ExitCode::FAILURE
        }
    }
}
