//! update-mode: the GraphQL API through which a super-app platform's tenants
//! view and change how each mini program updates at launch.

pub mod app;
pub mod auth;
pub mod check_ins;
pub mod config;
pub mod db;
pub mod domain;
pub mod error;
pub mod graphql;
pub mod hooks;
pub mod http;
pub mod launch;
pub mod live;
pub mod scheduler;
mod send_body;
pub mod service;
pub mod sync;
