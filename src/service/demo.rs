//! The demo workspace that a fresh development installation starts with, so
//! that GraphiQL and the console have something to show: programs of every
//! type and channel, versions in every status, and an update mode history.

use chrono::{Duration, Utc};

use super::ServiceError;
use super::mini_programs::{self, CreateMiniProgram};
use super::versions::{self, CreateVersion};
use crate::db::Database;
use crate::db::mini_programs::ProgramFilter;
use crate::db::versions::{self as version_repository, ImportedVersion};
use crate::domain::{
    MiniProgramChannel, MiniProgramType, Principal, Role, UpdateMode, VersionNumber, VersionStatus,
};

pub const DEMO_WORKSPACE: &str = "demo";

/// Seeds the demo workspace unless it already has programs. Returns whether it did.
pub async fn seed_if_empty(db: &Database) -> Result<bool, ServiceError> {
    let seeder = Principal {
        subject: "demo-seed".into(),
        workspace_id: DEMO_WORKSPACE.into(),
        roles: [Role::WorkspaceAdmin].into(),
    };
    if mini_programs::count(db, &seeder, &ProgramFilter::default()).await? > 0 {
        return Ok(false);
    }

    // A DSL program with its whole history: released versions keep the mode
    // they were released with while the global mode moved on.
    let mall = create(
        db,
        &seeder,
        "Mall",
        MiniProgramType::Dsl,
        MiniProgramChannel::Workspace,
    )
    .await?;
    import(
        db,
        &mall,
        "1.0.0",
        VersionStatus::Offline,
        UpdateMode::Default,
        60,
    )
    .await?;
    mini_programs::change_update_mode(db, &seeder, &mall, UpdateMode::Async, None).await?;
    import(
        db,
        &mall,
        "1.1.0",
        VersionStatus::FullRelease,
        UpdateMode::Async,
        30,
    )
    .await?;
    import(
        db,
        &mall,
        "1.2.0",
        VersionStatus::Rejected,
        UpdateMode::Async,
        20,
    )
    .await?;
    mini_programs::change_update_mode(db, &seeder, &mall, UpdateMode::Sync, None).await?;
    let pending = create_version(db, &seeder, &mall, "1.3.0", "Checkout redesign").await?;
    versions::submit_for_release_approval(db, &seeder, &pending).await?;
    create_version(db, &seeder, &mall, "1.4.0", "Dark mode").await?;

    let coupons = create(
        db,
        &seeder,
        "Coupons",
        MiniProgramType::Dsl,
        MiniProgramChannel::Workspace,
    )
    .await?;
    import(
        db,
        &coupons,
        "2.0.0",
        VersionStatus::FullRelease,
        UpdateMode::Default,
        40,
    )
    .await?;
    import(
        db,
        &coupons,
        "2.1.0",
        VersionStatus::GrayRelease,
        UpdateMode::Default,
        10,
    )
    .await?;
    import(
        db,
        &coupons,
        "2.2.0",
        VersionStatus::Approved,
        UpdateMode::Default,
        2,
    )
    .await?;

    let guide = create(
        db,
        &seeder,
        "Travel Guide",
        MiniProgramType::H5,
        MiniProgramChannel::Workspace,
    )
    .await?;
    import(
        db,
        &guide,
        "1.0.0",
        VersionStatus::FullRelease,
        UpdateMode::Default,
        15,
    )
    .await?;

    let rewards = create(
        db,
        &seeder,
        "Alipay+ Rewards",
        MiniProgramType::Dsl,
        MiniProgramChannel::AlipayPlus,
    )
    .await?;
    import(
        db,
        &rewards,
        "3.2.0",
        VersionStatus::FullRelease,
        UpdateMode::Default,
        25,
    )
    .await?;
    Ok(true)
}

async fn create(
    db: &Database,
    seeder: &Principal,
    name: &str,
    program_type: MiniProgramType,
    channel: MiniProgramChannel,
) -> Result<String, ServiceError> {
    let input = CreateMiniProgram {
        name: name.into(),
        program_type,
        channel,
    };
    Ok(mini_programs::create(db, seeder, input).await?.id)
}

async fn create_version(
    db: &Database,
    seeder: &Principal,
    program_id: &str,
    version: &str,
    description: &str,
) -> Result<String, ServiceError> {
    let input = CreateVersion {
        mini_program_id: program_id.into(),
        version: version.into(),
        description: Some(description.into()),
    };
    Ok(versions::create(db, seeder, input).await?.id)
}

/// A version that went through the release steps, which this API does not
/// offer yet, `days_ago` days ago.
async fn import(
    db: &Database,
    program_id: &str,
    number: &str,
    status: VersionStatus,
    mode: UpdateMode,
    days_ago: i64,
) -> Result<(), ServiceError> {
    let created_at = Utc::now() - Duration::days(days_ago);
    let version = ImportedVersion {
        number: VersionNumber::parse(number)?,
        description: None,
        status,
        fixed_update_mode: Some(mode),
        created_at,
        submitted_at: Some(created_at + Duration::hours(2)),
    };
    Ok(version_repository::import(db, program_id, version).await?)
}
