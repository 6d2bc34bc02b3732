//! Reading device check-ins: which versions devices run, and what a change
//! of the update mode or of the minimum version would do before it is
//! made. Figures are those of the last flush of every process.

use chrono::Utc;

use super::{ServiceError, Services, require_reader};
use crate::db::{Conn, check_ins, launch_policies};
use crate::domain::{
    ActionCounts, Adoption, AdoptionPoint, AdoptionWindow, CheckInGroup, LaunchPolicy, MiniProgram,
    MinimumVersionImpact, Principal, RuleViolation, UpdateMode, VersionNumber, adoption_series,
    minimum_version_impact, update_mode_impact,
};

/// Check-ins and devices per version of a program the caller has read.
pub async fn adoption(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
    since_hours: i32,
) -> Result<Adoption, ServiceError> {
    let groups = program_check_ins(services, principal, program, since_hours).await?;
    Ok(crate::domain::adoption(&groups))
}

/// Devices per hour and version, oldest hour first.
pub async fn series(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
    since_hours: i32,
) -> Result<Vec<AdoptionPoint>, ServiceError> {
    let groups = program_check_ins(services, principal, program, since_hours).await?;
    Ok(adoption_series(&groups))
}

/// What the devices seen in the window would be told if the program's
/// targets were released with `mode`.
pub async fn update_mode_change(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
    mode: UpdateMode,
    since_hours: i32,
) -> Result<ActionCounts, ServiceError> {
    require_reader(principal)?;
    let window = AdoptionWindow::new(since_hours)?;
    let (policy, groups) =
        policy_and_check_ins(services, principal, mini_program_id, window).await?;
    Ok(update_mode_impact(&policy, mode, &groups))
}

/// The devices seen in the window that a minimum of `version` would make
/// download before starting.
pub async fn minimum_version_change(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
    version: &str,
    since_hours: i32,
) -> Result<MinimumVersionImpact, ServiceError> {
    require_reader(principal)?;
    let window = AdoptionWindow::new(since_hours)?;
    let floor = VersionNumber::parse(version)
        .map_err(|_| RuleViolation::invalid_input("version", "must be MAJOR.MINOR.PATCH"))?;
    let (_, groups) = policy_and_check_ins(services, principal, mini_program_id, window).await?;
    Ok(minimum_version_impact(&groups, floor))
}

async fn program_check_ins(
    services: &Services,
    principal: &Principal,
    program: &MiniProgram,
    since_hours: i32,
) -> Result<Vec<CheckInGroup>, ServiceError> {
    require_reader(principal)?;
    let window = AdoptionWindow::new(since_hours)?;
    let groups = services
        .db
        .read(async |conn| read_window(conn, &program.id, window).await)
        .await?;
    Ok(groups)
}

async fn policy_and_check_ins(
    services: &Services,
    principal: &Principal,
    mini_program_id: &str,
    window: AdoptionWindow,
) -> Result<(LaunchPolicy, Vec<CheckInGroup>), ServiceError> {
    services
        .db
        .read(async |conn| {
            let policy = launch_policies::load(conn, mini_program_id)
                .await?
                .filter(|policy| policy.workspace_id == principal.workspace_id)
                .ok_or(ServiceError::NotFound("mini program"))?;
            let groups = read_window(conn, mini_program_id, window).await?;
            Ok((policy, groups))
        })
        .await
}

async fn read_window(
    conn: &mut Conn<'_>,
    mini_program_id: &str,
    window: AdoptionWindow,
) -> Result<Vec<CheckInGroup>, crate::db::StorageError> {
    check_ins::since(conn, mini_program_id, window.first_hour(Utc::now())).await
}
