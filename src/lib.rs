//! update-mode: the GraphQL API through which a super-app platform's tenants
//! view and change how each mini program updates at launch.

pub mod db;
pub mod domain;
pub mod service;
