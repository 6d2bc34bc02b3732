//! The GraphQL API: the schema, thin resolvers that call the services, the
//! GraphQL types, and the one place where errors become `extensions.code`.

mod adoption;
mod audit;
mod connection;
mod document;
mod enums;
mod error;
mod integrations;
mod launch;
mod listing;
mod mutation;
pub mod nesting;
mod persisted;
mod query;
mod rollouts;
mod scalars;
mod schema_description;
mod subscription;
mod types;
mod update_mode_windows;

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionFactory};
use async_graphql::{MergedObject, Schema, SchemaBuilder};

use crate::domain::Principal;
use crate::service::{Actor, Services};

pub use document::{Checked, DocumentLimits, Refused, check};
pub use error::{REQUEST_ERROR_CODES, code_errors, refused};
pub use persisted::persisted_query_hash;
pub use schema_description::SchemaDescriptions;

/// The root types, merged from one object per area.
#[derive(MergedObject, Default)]
pub struct Query(
    query::ProgramQuery,
    audit::AuditQuery,
    integrations::IntegrationQuery,
    launch::LaunchQuery,
    rollouts::ReleaseControlQuery,
    adoption::AdoptionQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    mutation::ProgramMutation,
    integrations::IntegrationMutation,
    launch::LaunchMutation,
    rollouts::ReleaseControlMutation,
    update_mode_windows::WindowMutation,
);

pub use subscription::Subscription;

pub type ApiSchema = Schema<Query, Mutation, Subscription>;

fn builder() -> SchemaBuilder<Query, Mutation, Subscription> {
    Schema::build(Query::default(), Mutation::default(), Subscription)
}

/// What a query may cost; see `config::ApiSettings`.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    pub depth: usize,
    pub complexity: usize,
    pub aliases: usize,
    pub directives: usize,
    /// How deeply selections nest with fragments expanded.
    pub recursion: usize,
    pub introspection: bool,
    /// How deeply fields nest under `__schema` and `__type`, when
    /// introspection is on.
    pub introspection_depth: usize,
}

impl QueryLimits {
    /// The part that `check` enforces on a parsed document; the schema
    /// enforces the rest while validating.
    pub fn document(&self) -> DocumentLimits {
        DocumentLimits {
            depth: self.depth,
            introspection_depth: self.introspection.then_some(self.introspection_depth),
            aliases: self.aliases,
            directives: self.directives,
            recursion: self.recursion,
            // A field costs at least 1 and a page at least what its items
            // cost, so no document within the complexity limit has more
            // than twice as many fields.
            fields: self.complexity.saturating_mul(2),
        }
    }
}

/// The executable schema; each request brings its `Principal` as request data.
/// Documents over a limit are refused before any resolver (or SQL) runs.
pub fn schema(
    services: Services,
    limits: QueryLimits,
    extensions: Vec<Arc<dyn ExtensionFactory>>,
) -> ApiSchema {
    // The depth limit is `document::check`'s, which counts introspection
    // apart: async-graphql's own refuses the standard introspection query.
    let mut builder = builder()
        .data(services)
        .limit_complexity(limits.complexity)
        .limit_directives(limits.directives)
        .limit_recursive_depth(limits.recursion);
    for extension in extensions {
        builder = builder.extension(PluginExtension(extension));
    }
    if limits.introspection {
        builder.finish()
    } else {
        builder
            .disable_introspection()
            .disable_suggestions()
            .finish()
    }
}

/// A plugin's extension; plugins hold theirs shared.
struct PluginExtension(Arc<dyn ExtensionFactory>);

impl ExtensionFactory for PluginExtension {
    fn create(&self) -> Arc<dyn Extension> {
        self.0.create()
    }
}

/// The schema in SDL, as committed in `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The request's id, as the HTTP layer read or made it.
pub struct RequestId(pub String);

/// The principal acting through this request, for mutations.
fn acting<'a>(
    ctx: &async_graphql::Context<'a>,
) -> async_graphql::Result<(&'a Services, Actor<'a>)> {
    let actor = Actor {
        principal: ctx.data::<Principal>()?,
        request_id: ctx.data_opt::<RequestId>().map(|id| id.0.as_str()),
    };
    Ok((ctx.data::<Services>()?, actor))
}

/// The services and the caller, as every resolver needs them.
fn caller<'a>(
    ctx: &async_graphql::Context<'a>,
) -> async_graphql::Result<(&'a Services, &'a Principal)> {
    Ok((ctx.data::<Services>()?, ctx.data::<Principal>()?))
}
