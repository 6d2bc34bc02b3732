//! GraphQL for update-mode windows: a change of the global mode that
//! starts, and ends, by itself.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::acting;
use super::enums::UpdateMode;
use super::scalars::DateTime;
use crate::domain::{self, RequestedWindow};
use crate::service::update_mode_windows;

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "domain::ScheduledChangeStatus")]
pub enum ScheduledChangeStatus {
    /// Waiting for its start.
    Scheduled,
    /// Started, waiting for its end.
    Active,
    /// Its change (and its revert, if it has an end) applied.
    Completed,
    Cancelled,
    /// Its revert did not apply because the mode was changed during the
    /// window; `note` says who changed it and when.
    Skipped,
}

/// A change of a program's global update mode at `startsAt`, changed back
/// at `endsAt`, applied by the server itself as `updateMode` would.
pub struct ScheduledUpdateModeChange(pub domain::ScheduledUpdateModeChange);

#[Object]
impl ScheduledUpdateModeChange {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }

    async fn mode(&self) -> UpdateMode {
        self.0.mode.into()
    }

    async fn starts_at(&self) -> DateTime {
        self.0.starts_at.into()
    }

    /// Null: the change stays.
    async fn ends_at(&self) -> Option<DateTime> {
        self.0.ends_at.map(Into::into)
    }

    async fn status(&self) -> ScheduledChangeStatus {
        self.0.status.into()
    }

    /// The mode the start replaced, which the end restores.
    async fn revert_to(&self) -> Option<UpdateMode> {
        self.0.revert_to.map(Into::into)
    }

    /// Who scheduled it; its changes are made as them.
    async fn created_by(&self) -> &str {
        &self.0.created_by
    }

    /// Why a revert was skipped.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

#[derive(InputObject)]
pub struct ScheduleUpdateModeInput {
    mini_program_id: ID,
    mode: UpdateMode,
    /// In the future, within a year.
    starts_at: DateTime,
    /// After `startsAt`; null keeps the mode.
    ends_at: Option<DateTime>,
}

#[derive(SimpleObject)]
pub struct ScheduleUpdateModePayload {
    scheduled_change: ScheduledUpdateModeChange,
}

#[derive(InputObject)]
pub struct CancelScheduledUpdateModeInput {
    id: ID,
}

#[derive(SimpleObject)]
pub struct CancelScheduledUpdateModePayload {
    scheduled_change: ScheduledUpdateModeChange,
}

#[derive(Default)]
pub struct WindowMutation;

#[Object]
impl WindowMutation {
    /// Schedules the global update mode: at `startsAt` it changes as with
    /// `updateMode`, and at `endsAt` (if given) it changes back, unless
    /// someone changed it during the window. WORKSPACE_ADMIN, for programs
    /// whose update mode is editable.
    async fn schedule_update_mode(
        &self,
        ctx: &Context<'_>,
        input: ScheduleUpdateModeInput,
    ) -> async_graphql::Result<ScheduleUpdateModePayload> {
        let (services, actor) = acting(ctx)?;
        let requested = RequestedWindow {
            mode: input.mode.into(),
            starts_at: input.starts_at.0,
            ends_at: input.ends_at.map(|at| at.0),
        };
        let window =
            update_mode_windows::schedule(services, actor, &input.mini_program_id, requested)
                .await?;
        Ok(ScheduleUpdateModePayload {
            scheduled_change: ScheduledUpdateModeChange(window),
        })
    }

    /// Drops a SCHEDULED window; an ACTIVE one ends at once (reverting
    /// unless the mode was changed during it). WORKSPACE_ADMIN.
    async fn cancel_scheduled_update_mode(
        &self,
        ctx: &Context<'_>,
        input: CancelScheduledUpdateModeInput,
    ) -> async_graphql::Result<CancelScheduledUpdateModePayload> {
        let (services, actor) = acting(ctx)?;
        let window = update_mode_windows::cancel(services, actor, &input.id).await?;
        Ok(CancelScheduledUpdateModePayload {
            scheduled_change: ScheduledUpdateModeChange(window),
        })
    }
}
