//! Black-box tests of the API: the real server over HTTP, on SQLite and on
//! PostgreSQL.

#[path = "../common/mod.rs"]
mod common;

mod audit_log;
mod authentication;
mod capabilities;
mod console;
mod dev_mode;
mod exhaustion;
mod faults;
mod fuzz;
mod hooks;
mod http;
mod launch;
mod lifecycle;
mod limits;
mod listing;
mod migrations;
mod mini_programs;
mod persisted_queries;
mod public_keys;
mod scale_out;
mod subscriptions;
mod tenancy;
mod update_mode;
mod versions;
