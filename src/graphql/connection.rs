//! Relay connections over the services' pages, with a `totalCount` that is
//! only counted when a client selects it.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, Object, OutputType};

use super::caller;
use super::listing::Listing;
use crate::domain::ProgramFilter;
use crate::domain::{AuditFilter, MiniProgram, ReleaseIntegration, VersionStatus};
use crate::service::page::Page;
use crate::service::{audit_log, integrations, mini_programs, versions};

/// What a connection's `totalCount` counts.
pub enum TotalCount {
    MiniPrograms {
        filter: ProgramFilter,
        /// Counted with the page, when it was.
        counted: Option<i64>,
    },
    Versions {
        program: MiniProgram,
        statuses: Vec<VersionStatus>,
        /// The page the program was listed on: counted with its siblings.
        listing: Option<Arc<Listing>>,
    },
    UpdateModeChanges(MiniProgram),
    Deliveries(ReleaseIntegration),
    AuditRecords(AuditFilter),
}

#[Object]
impl TotalCount {
    /// How many items the whole list has, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let (services, principal) = caller(ctx)?;
        let count = match self {
            TotalCount::MiniPrograms {
                counted: Some(count),
                ..
            } => *count,
            TotalCount::MiniPrograms {
                filter,
                counted: None,
            } => mini_programs::count(services, principal, filter).await?,
            TotalCount::Versions {
                program,
                statuses,
                listing,
            } => {
                let listed = match listing {
                    Some(listing) => {
                        listing
                            .version_count(services, principal, &program.id, statuses)
                            .await?
                    }
                    None => None,
                };
                match listed {
                    Some(count) => count,
                    None => versions::count(services, principal, program, statuses).await?,
                }
            }
            TotalCount::UpdateModeChanges(program) => {
                mini_programs::history_count(services, principal, program).await?
            }
            TotalCount::Deliveries(integration) => {
                integrations::delivery_count(services, principal, integration).await?
            }
            TotalCount::AuditRecords(filter) => {
                audit_log::count(services, principal, filter).await?
            }
        };
        Ok(i32::try_from(count).unwrap_or(i32::MAX))
    }
}

pub type ListConnection<N> = Connection<String, N, TotalCount>;

pub fn connection<T, N: OutputType>(
    page: Page<T>,
    node: impl Fn(T) -> N,
    total: TotalCount,
) -> ListConnection<N> {
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, total);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|(cursor, item)| Edge::new(cursor, node(item))),
    );
    connection
}

/// What a page costs: its items times what each item costs, at the size the
/// client asked for (out-of-range sizes are refused later, at their price
/// here), so that nested lists multiply.
pub fn page_cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first
        .unwrap_or(crate::service::page::DEFAULT_PAGE_SIZE)
        .clamp(1, crate::service::page::MAX_PAGE_SIZE);
    usize::try_from(first)
        .unwrap_or(1)
        .saturating_mul(child_complexity.max(1))
}
