//! Black-box tests of the API: the real server over HTTP, on SQLite and on
//! PostgreSQL.

/// The whole harness of tests/common/, one module per job.
#[path = "../common"]
mod common {
    pub mod database;
    pub mod gate;
    pub mod gql;
    pub mod identity_provider;
    pub mod in_process;
    pub mod live;
    pub mod own_postgres;
    pub mod process;
    pub mod receiver;
    pub mod server;
    pub mod steps;
    pub mod tokens;
    pub mod wait;

    pub use database::*;
    pub use gate::*;
    pub use gql::*;
    pub use in_process::*;
    pub use process::*;
    pub use receiver::*;
    pub use server::*;
    pub use steps::*;
    pub use tokens::*;
    pub use wait::*;

    /// The workspace of the tenant isolation tests' other tenant.
    pub const OTHER_WORKSPACE: &str = "globex";
}

mod audit_log;
mod authentication;
mod capabilities;
mod check_ins;
mod console;
mod dev_mode;
mod exhaustion;
mod faults;
mod fuzz;
mod gates;
mod hooks;
mod http;
mod introspection;
mod launch;
mod launch_signing;
mod lifecycle;
mod limits;
mod listing;
mod migrations;
mod mini_programs;
mod minimum_version;
mod persisted_queries;
mod protocol;
mod public_keys;
mod rollback;
mod rollouts;
mod scale_out;
mod subscriptions;
mod tenancy;
mod update_mode;
mod update_mode_windows;
mod versions;
