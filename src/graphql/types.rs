//! The GraphQL object types, each a thin view of a domain value.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};

use super::adoption::{Adoption, AdoptionPoint, program_adoption, program_series};
use super::caller;
use super::connection::{ListConnection, TotalCount, connection, page_cost};
use super::enums::{
    Capability, MiniProgramChannel, MiniProgramType, Role, UpdateMode, UpdateModeLock,
    UpdateModeSource, VersionAction, VersionStatus,
};
use super::listing::{ListedVersion, Listing};
use super::rollouts::Rollout;
use super::scalars::DateTime;
use super::update_mode_windows::ScheduledUpdateModeChange;
use crate::domain::{self, Principal, update_mode_locks};
use crate::service::page::PageRequest;
use crate::service::{ServiceError, mini_programs, rollouts, update_mode_windows, versions};

/// The caller, as its token names it.
pub struct Viewer(pub Principal);

#[Object]
impl Viewer {
    /// The token's subject (`sub`).
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    async fn workspace_id(&self) -> ID {
        ID(self.0.workspace_id.clone())
    }

    /// The roles of the token that this API knows.
    async fn roles(&self) -> Vec<Role> {
        self.0.roles.iter().map(|&role| role.into()).collect()
    }

    /// What the caller's roles allow, by the same rules that authorize each
    /// request, so that a client offers only what it may do. A capability
    /// does not promise that every request of its kind succeeds: the
    /// program or version may not allow it (see `updateModeLocks` and
    /// `availableActions`).
    async fn capabilities(&self) -> Vec<Capability> {
        self.0.capabilities().into_iter().map(Into::into).collect()
    }
}

/// A mini program of the caller's workspace, with the page it was listed
/// on, if it was.
pub struct MiniProgram {
    program: domain::MiniProgram,
    listing: Option<Arc<Listing>>,
}

impl From<domain::MiniProgram> for MiniProgram {
    fn from(program: domain::MiniProgram) -> Self {
        Self {
            program,
            listing: None,
        }
    }
}

impl MiniProgram {
    /// A program of a listed page, whose lists are read with its siblings'.
    pub fn listed(program: domain::MiniProgram, listing: Arc<Listing>) -> Self {
        Self {
            program,
            listing: Some(listing),
        }
    }
}

#[Object]
impl MiniProgram {
    async fn id(&self) -> ID {
        ID(self.program.id.clone())
    }

    async fn name(&self) -> &str {
        &self.program.name
    }

    #[graphql(name = "type")]
    async fn program_type(&self) -> MiniProgramType {
        self.program.program_type.into()
    }

    async fn channel(&self) -> MiniProgramChannel {
        self.program.channel.into()
    }

    /// The global update mode (Versions > Update Mode). It takes effect with a
    /// version when that version is submitted for release approval.
    async fn update_mode(&self) -> UpdateMode {
        self.program.update_mode.into()
    }

    /// Whether the caller may change the update mode.
    async fn update_mode_editable(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let (_, principal) = caller(ctx)?;
        Ok(update_mode_locks(principal, &self.program).is_empty())
    }

    /// Every reason why the caller may not change the update mode; empty when it may.
    async fn update_mode_locks(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<UpdateModeLock>> {
        let (_, principal) = caller(ctx)?;
        Ok(update_mode_locks(principal, &self.program)
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// No device may start an older version: one that has an older version
    /// cached downloads the target first. Null: no floor.
    async fn minimum_version(&self) -> Option<String> {
        self.program
            .minimum_version
            .map(|version| version.to_string())
    }

    /// Raised by one on every accepted change of the program; pass it as
    /// `expectedRevision` so that a stale edit is refused rather than lost.
    async fn revision(&self) -> i32 {
        self.program.revision
    }

    async fn created_at(&self) -> DateTime {
        self.program.created_at.into()
    }

    async fn updated_at(&self) -> DateTime {
        self.program.updated_at.into()
    }

    /// Under DEFAULT, how long after its first open or last update a device
    /// starts updating in the background (`setUpdateTimers`).
    async fn async_update_seconds(&self) -> i32 {
        self.program.timers.async_update_seconds
    }

    /// Under DEFAULT, how long after its first open or last update a device
    /// updates before starting.
    async fn sync_update_seconds(&self) -> i32 {
        self.program.timers.sync_update_seconds
    }

    /// Launch answers of the last `sinceHours` hours counted as device
    /// check-ins, per version devices had cached (most devices first).
    async fn adoption(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 24, desc = "1 to 720; null means 24")] since_hours: Option<i32>,
    ) -> async_graphql::Result<Adoption> {
        program_adoption(ctx, &self.program, since_hours).await
    }

    /// Distinct devices per hour and cached version over the last
    /// `sinceHours` hours, oldest hour first.
    async fn adoption_series(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 24, desc = "1 to 720; null means 24")] since_hours: Option<i32>,
    ) -> async_graphql::Result<Vec<AdoptionPoint>> {
        program_series(ctx, &self.program, since_hours).await
    }

    /// The program's versions, newest version number first (1.10.0 before 1.9.0).
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn versions(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "1 to 100; null means 20")] first: Option<i32>,
        after: Option<String>,
        #[graphql(desc = "Only versions in these statuses; all when absent or empty.")]
        status: Option<Vec<VersionStatus>>,
    ) -> async_graphql::Result<ListConnection<MiniProgramVersion>> {
        let (services, principal) = caller(ctx)?;
        let statuses: Vec<domain::VersionStatus> = status
            .unwrap_or_default()
            .into_iter()
            .map(Into::into)
            .collect();
        let listed = match (&self.listing, &after) {
            (Some(listing), None) => listing
                .first_page(services, principal, &self.program.id, &statuses, first)
                .await?
                .map(|page| page.map(|version| MiniProgramVersion::listed(version, listing))),
            _ => None,
        };
        let page = match listed {
            Some(page) => page,
            None => {
                let request = PageRequest { first, after };
                versions::list(services, principal, &self.program, &statuses, &request)
                    .await?
                    .map(MiniProgramVersion::from)
            }
        };
        let total = TotalCount::Versions {
            program: self.program.clone(),
            statuses,
            listing: self.listing.clone(),
        };
        Ok(connection(page, std::convert::identity, total))
    }

    /// The program's SCHEDULED and ACTIVE update-mode windows, soonest first.
    async fn scheduled_update_modes(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ScheduledUpdateModeChange>> {
        let (services, principal) = caller(ctx)?;
        let windows = update_mode_windows::pending(services, principal, &self.program).await?;
        Ok(windows.into_iter().map(ScheduledUpdateModeChange).collect())
    }

    /// The changes of the global update mode, newest first.
    #[graphql(complexity = "page_cost(first, child_complexity)")]
    async fn update_mode_history(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, desc = "1 to 100; null means 20")] first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<ListConnection<UpdateModeChange>> {
        let (services, principal) = caller(ctx)?;
        let page = mini_programs::history(
            services,
            principal,
            &self.program,
            &PageRequest { first, after },
        )
        .await?;
        Ok(connection(
            page,
            UpdateModeChange::from,
            TotalCount::UpdateModeChanges(self.program.clone()),
        ))
    }
}

/// A version of a mini program: its whole record, or the summary its
/// listed page read, whose other fields read the whole records of the page's
/// versions together.
pub struct MiniProgramVersion(VersionRecord);

enum VersionRecord {
    Whole(domain::MiniProgramVersion),
    Summary {
        version: domain::VersionSummary,
        listing: Arc<Listing>,
    },
}

impl From<domain::MiniProgramVersion> for MiniProgramVersion {
    fn from(version: domain::MiniProgramVersion) -> Self {
        Self(VersionRecord::Whole(version))
    }
}

impl MiniProgramVersion {
    fn listed(version: ListedVersion, listing: &Arc<Listing>) -> Self {
        Self(match version {
            ListedVersion::Whole(version) => VersionRecord::Whole(version),
            ListedVersion::Summary(version) => VersionRecord::Summary {
                version,
                listing: listing.clone(),
            },
        })
    }

    fn version_id(&self) -> &str {
        match &self.0 {
            VersionRecord::Whole(version) => &version.id,
            VersionRecord::Summary { version, .. } => &version.id,
        }
    }

    fn summary(&self) -> (&str, domain::VersionNumber, domain::VersionStatus) {
        match &self.0 {
            VersionRecord::Whole(v) => (&v.mini_program_id, v.number, v.status),
            VersionRecord::Summary { version: v, .. } => (&v.mini_program_id, v.number, v.status),
        }
    }

    fn shown_update_mode(&self) -> (domain::UpdateMode, domain::UpdateModeSource) {
        match &self.0 {
            VersionRecord::Whole(version) => version.update_mode(),
            VersionRecord::Summary { version, .. } => version.update_mode(),
        }
    }

    async fn record(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<&domain::MiniProgramVersion> {
        match &self.0 {
            VersionRecord::Whole(version) => Ok(version),
            VersionRecord::Summary { version, listing } => {
                let (services, principal) = caller(ctx)?;
                Ok(listing
                    .whole_version(services, principal, &version.id)
                    .await?)
            }
        }
    }
}

#[Object]
impl MiniProgramVersion {
    async fn id(&self) -> ID {
        ID(self.version_id().to_owned())
    }

    async fn mini_program(&self, ctx: &Context<'_>) -> async_graphql::Result<MiniProgram> {
        let (services, principal) = caller(ctx)?;
        let (program_id, ..) = self.summary();
        let program = mini_programs::find(services, principal, program_id)
            .await?
            .ok_or(ServiceError::NotFound("mini program"))?;
        Ok(MiniProgram::from(program))
    }

    /// The version number, MAJOR.MINOR.PATCH.
    async fn version(&self) -> String {
        self.summary().1.to_string()
    }

    async fn description(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        Ok(self.record(ctx).await?.description.as_deref())
    }

    async fn status(&self) -> VersionStatus {
        self.summary().2.into()
    }

    /// While New Version Created, the mode the version will finally execute
    /// (the global mode); from submission on, the mode it was released with.
    async fn update_mode(&self) -> UpdateMode {
        self.shown_update_mode().0.into()
    }

    async fn update_mode_source(&self) -> UpdateModeSource {
        self.shown_update_mode().1.into()
    }

    async fn created_at(&self, ctx: &Context<'_>) -> async_graphql::Result<DateTime> {
        Ok(self.record(ctx).await?.created_at.into())
    }

    /// When the version was submitted for release approval.
    async fn submitted_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime>> {
        Ok(self.record(ctx).await?.submitted_at.map(Into::into))
    }

    /// The share of devices (1 to 99) that a gray release reaches.
    async fn gray_percentage(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<i32>> {
        Ok(self.record(ctx).await?.gray_percentage)
    }

    /// When the version was approved or rejected.
    async fn decided_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime>> {
        let decision = self.record(ctx).await?.decision.as_ref();
        Ok(decision.map(|d| d.decided_at.into()))
    }

    /// Who approved or rejected the version (the token's subject).
    async fn decided_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let decision = self.record(ctx).await?.decision.as_ref();
        Ok(decision.map(|d| d.decided_by.as_str()))
    }

    async fn decision_comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        let decision = self.record(ctx).await?.decision.as_ref();
        Ok(decision.and_then(|d| d.comment.as_deref()))
    }

    /// When the version was first released, gray or full.
    async fn released_at(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<DateTime>> {
        Ok(self.record(ctx).await?.released_at.map(Into::into))
    }

    /// Why a rollback took the version offline; such a version is never
    /// served again.
    async fn offline_reason(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<&str>> {
        Ok(self.record(ctx).await?.offline_reason.as_deref())
    }

    /// The version's latest rollout plan; null if it never had one.
    async fn rollout(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Rollout>> {
        let (services, principal) = caller(ctx)?;
        let version = self.record(ctx).await?;
        Ok(rollouts::latest(services, principal, version)
            .await?
            .map(Rollout))
    }

    /// The lifecycle steps that the caller's roles and the version's status
    /// allow now. A step offered may still be refused for the program's
    /// other versions (one already waits for approval, a newer one is
    /// released); the refusal says why.
    async fn available_actions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<VersionAction>> {
        let (_, principal) = caller(ctx)?;
        Ok(domain::available_actions(principal, self.summary().2)
            .into_iter()
            .map(Into::into)
            .collect())
    }
}

/// One accepted change of a program's global update mode.
#[derive(SimpleObject)]
pub struct UpdateModeChange {
    previous_mode: UpdateMode,
    mode: UpdateMode,
    /// The subject of the token that made the change.
    changed_by: String,
    changed_at: DateTime,
    /// The program's revision that this change produced.
    revision: i32,
}

impl From<domain::UpdateModeChange> for UpdateModeChange {
    fn from(change: domain::UpdateModeChange) -> Self {
        Self {
            previous_mode: change.previous_mode.into(),
            mode: change.mode.into(),
            changed_by: change.changed_by,
            changed_at: change.changed_at.into(),
            revision: change.revision,
        }
    }
}
