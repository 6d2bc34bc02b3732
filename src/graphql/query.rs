use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};

use super::caller;
use super::connection::{ListConnection, TotalCount, connection, page_cost};
use super::enums::{MiniProgramChannel, MiniProgramType, UpdateMode};
use super::listing::{Listing, shown, shown_under_program};
use super::types::{MiniProgram, MiniProgramVersion, Viewer};
use crate::domain::ProgramFilter;
use crate::service::page::PageRequest;
use crate::service::{mini_programs, versions};

#[derive(Default)]
pub struct ProgramQuery;

/// Narrows a list of mini programs; every field given must match.
#[derive(InputObject, Default)]
pub struct MiniProgramFilter {
    #[graphql(name = "type")]
    program_type: Option<MiniProgramType>,
    channel: Option<MiniProgramChannel>,
    update_mode: Option<UpdateMode>,
    /// Case-insensitive part of the name.
    name_contains: Option<String>,
}

impl From<MiniProgramFilter> for ProgramFilter {
    fn from(filter: MiniProgramFilter) -> Self {
        ProgramFilter {
            program_type: filter.program_type.map(Into::into),
            channel: filter.channel.map(Into::into),
            update_mode: filter.update_mode.map(Into::into),
            name_contains: filter.name_contains,
        }
    }
}

#[Object]
impl ProgramQuery {
    /// Who the caller is.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Viewer> {
        let (_, principal) = caller(ctx)?;
        Ok(Viewer(principal.clone()))
    }

    /// The mini programs of the caller's workspace, by name.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn mini_programs(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "1 to 100; null means 20")] first: Option<i32>,
        after: Option<String>,
        filter: Option<MiniProgramFilter>,
    ) -> async_graphql::Result<ListConnection<MiniProgram>> {
        let (services, principal) = caller(ctx)?;
        let filter = ProgramFilter::from(filter.unwrap_or_default());
        let request = PageRequest { first, after };
        let listed =
            mini_programs::list(services, principal, &filter, &request, &shown(ctx)).await?;
        let counted = listed.total;
        let (page, listing) = Listing::new(listed);
        let listing = Arc::new(listing);
        Ok(connection(
            page,
            |program| MiniProgram::listed(program, listing.clone()),
            TotalCount::MiniPrograms { filter, counted },
        ))
    }

    /// A mini program of the caller's workspace; null when there is none with this id.
    async fn mini_program(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<MiniProgram>> {
        let (services, principal) = caller(ctx)?;
        let shown = shown_under_program(ctx);
        let read = mini_programs::find_shown(services, principal, &id, &shown).await?;
        let (page, listing) = Listing::new(read);
        let listing = Arc::new(listing);
        Ok(page
            .items
            .into_iter()
            .next()
            .map(|(_, program)| MiniProgram::listed(program, listing)))
    }

    /// A version of a mini program of the caller's workspace; null when there is none with this id.
    async fn mini_program_version(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<MiniProgramVersion>> {
        let (services, principal) = caller(ctx)?;
        Ok(versions::find(services, principal, &id)
            .await?
            .map(MiniProgramVersion::from))
    }
}
