use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt};

use super::caller;
use super::types::{MiniProgramVersion, UpdateModeChange};
use crate::service::live;

/// Changes of one mini program, from the moment of subscribing, sent once
/// they committed (through any process of the service).
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Each accepted change of the program's global update mode. Ends with
    /// SUBSCRIPTION_INTERRUPTED when changes may have been missed: read the
    /// program again and subscribe again.
    async fn update_mode_changed(
        &self,
        ctx: &Context<'_>,
        mini_program_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<UpdateModeChange>> + use<>>
    {
        let (services, principal) = caller(ctx)?;
        let changes = live::update_mode_changes(services, principal, &mini_program_id).await?;
        Ok(changes.map(|change| Ok(UpdateModeChange::from(change?))))
    }

    /// The program's versions, each time one is created, submitted,
    /// approved or rejected, released, or taken offline: the version as it
    /// is then. Ends with SUBSCRIPTION_INTERRUPTED like `updateModeChanged`.
    async fn version_changed(
        &self,
        ctx: &Context<'_>,
        mini_program_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<MiniProgramVersion>> + use<>>
    {
        let (services, principal) = caller(ctx)?;
        let versions = live::version_changes(services, principal, &mini_program_id).await?;
        Ok(versions.map(|version| Ok(MiniProgramVersion::from(version?))))
    }
}
