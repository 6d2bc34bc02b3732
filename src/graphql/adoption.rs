//! GraphQL for device check-ins: adoption per version, and the impact
//! previews of an update-mode or minimum-version change.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::caller;
use super::enums::{LaunchAction, UpdateMode};
use super::scalars::DateTime;
use crate::domain;
use crate::service::adoption;

/// Counts beyond `Int` are shown as its largest value.
fn int(count: u64) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}

/// One version's check-ins and devices in the window.
#[derive(SimpleObject)]
pub struct VersionAdoption {
    /// The version devices had cached; null for first opens (nothing cached).
    version: Option<String>,
    /// Launch answers given, exactly.
    check_ins: i32,
    /// Distinct devices, estimated (within 3% from 1,000 up, exact at small counts).
    devices: i32,
    /// This version's devices as a share of all devices seen, 0 to 1.
    share: f64,
}

/// The check-ins of a program: launch answers counted as of the last flush
/// of every server process.
#[derive(SimpleObject)]
pub struct Adoption {
    check_ins: i32,
    devices: i32,
    /// Most devices first. A device that updated within the window counts
    /// under each version it reported.
    versions: Vec<VersionAdoption>,
    /// When the figures were last added to; null when nothing was counted.
    updated_at: Option<DateTime>,
}

impl From<domain::Adoption> for Adoption {
    fn from(adoption: domain::Adoption) -> Self {
        Self {
            check_ins: int(adoption.check_ins),
            devices: int(adoption.devices),
            versions: adoption
                .versions
                .into_iter()
                .map(|version| VersionAdoption {
                    version: version.version.map(|number| number.to_string()),
                    check_ins: int(version.check_ins),
                    devices: int(version.devices),
                    share: version.share,
                })
                .collect(),
            updated_at: adoption.updated_at.map(Into::into),
        }
    }
}

/// The distinct devices of one version in one hour.
#[derive(SimpleObject)]
pub struct AdoptionPoint {
    /// The start of the hour.
    hour: DateTime,
    /// Null for first opens.
    version: Option<String>,
    devices: i32,
}

impl From<domain::AdoptionPoint> for AdoptionPoint {
    fn from(point: domain::AdoptionPoint) -> Self {
        Self {
            hour: point.hour.into(),
            version: point.version.map(|number| number.to_string()),
            devices: int(point.devices),
        }
    }
}

#[derive(SimpleObject)]
pub struct LaunchActionCount {
    action: LaunchAction,
    devices: i32,
}

/// What the devices seen in the window would be told.
#[derive(SimpleObject)]
pub struct UpdateModeImpact {
    devices: i32,
    /// Every action, each device counted once by the version and cache age
    /// it last reported.
    by_action: Vec<LaunchActionCount>,
}

/// The devices a minimum version would make download before starting.
#[derive(SimpleObject)]
pub struct MinimumVersionImpact {
    /// Devices whose last reported version is older than the minimum.
    devices_below: i32,
    /// Their share of all devices seen, 0 to 1.
    share: f64,
}

pub(super) async fn program_adoption(
    ctx: &Context<'_>,
    program: &domain::MiniProgram,
    since_hours: Option<i32>,
) -> async_graphql::Result<Adoption> {
    let (services, principal) = caller(ctx)?;
    let since_hours = since_hours.unwrap_or(DEFAULT_HOURS);
    Ok(
        adoption::adoption(services, principal, program, since_hours)
            .await?
            .into(),
    )
}

pub(super) async fn program_series(
    ctx: &Context<'_>,
    program: &domain::MiniProgram,
    since_hours: Option<i32>,
) -> async_graphql::Result<Vec<AdoptionPoint>> {
    let (services, principal) = caller(ctx)?;
    let since_hours = since_hours.unwrap_or(DEFAULT_HOURS);
    let series = adoption::series(services, principal, program, since_hours).await?;
    Ok(series.into_iter().map(Into::into).collect())
}

/// The window when the caller gives none.
const DEFAULT_HOURS: i32 = 24;

#[derive(Default)]
pub struct AdoptionQuery;

#[Object]
impl AdoptionQuery {
    /// What the devices seen in the last `sinceHours` hours would be told if
    /// the program's targets were released with `mode` (the targets
    /// themselves unchanged): the impact of an update-mode change on the
    /// next release, before it is confirmed.
    async fn update_mode_impact(
        &self,
        ctx: &Context<'_>,
        mini_program_id: ID,
        mode: UpdateMode,
        #[graphql(default = 24, desc = "1 to 720; null means 24")] since_hours: Option<i32>,
    ) -> async_graphql::Result<UpdateModeImpact> {
        let (services, principal) = caller(ctx)?;
        let counts = adoption::update_mode_change(
            services,
            principal,
            &mini_program_id,
            mode.into(),
            since_hours.unwrap_or(DEFAULT_HOURS),
        )
        .await?;
        Ok(UpdateModeImpact {
            devices: int(counts.devices),
            by_action: counts
                .by_action
                .into_iter()
                .map(|(action, devices)| LaunchActionCount {
                    action: action.into(),
                    devices: int(devices),
                })
                .collect(),
        })
    }

    /// The devices seen in the last `sinceHours` hours whose version is
    /// older than `version`: those a minimum version of `version` would
    /// make download before starting.
    async fn minimum_version_impact(
        &self,
        ctx: &Context<'_>,
        mini_program_id: ID,
        version: String,
        #[graphql(default = 24, desc = "1 to 720; null means 24")] since_hours: Option<i32>,
    ) -> async_graphql::Result<MinimumVersionImpact> {
        let (services, principal) = caller(ctx)?;
        let impact = adoption::minimum_version_change(
            services,
            principal,
            &mini_program_id,
            &version,
            since_hours.unwrap_or(DEFAULT_HOURS),
        )
        .await?;
        Ok(MinimumVersionImpact {
            devices_below: int(impact.devices_below),
            share: impact.share,
        })
    }
}
