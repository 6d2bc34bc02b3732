//! Check-ins to look at in the demo: a fleet of simulated devices opening
//! each program over the past hours, answered by the launch rules against
//! the program's policy as seeded, counted as launch answers are, and
//! updating when told to, so that adoption climbs the way it does.

use chrono::{DateTime, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::ServiceError;
use crate::check_ins::CheckIns;
use crate::db::{Database, launch_policies};
use crate::domain::{LaunchAction, LaunchRequest, VersionNumber, decide_launch};

/// A simulated fleet of one program.
pub struct Fleet {
    pub devices: usize,
    /// How many hours back the simulation starts.
    pub hours: i64,
    /// The share of devices opening the program in an hour.
    pub opens_per_hour: f64,
    /// What devices have cached at the start, with the share of each; the
    /// rest open it for the first time.
    pub cached: &'static [(&'static str, f64)],
}

struct Device {
    id: String,
    cached: Option<VersionNumber>,
    updated_at: DateTime<Utc>,
    /// A background download finishes before the next open.
    downloaded: Option<VersionNumber>,
}

/// Simulates the fleet of `mini_program_id` and flushes its check-ins.
pub async fn simulate(
    db: &Database,
    mini_program_id: &str,
    fleet: &Fleet,
) -> Result<(), ServiceError> {
    let policy = db
        .read(async |conn| launch_policies::load(conn, mini_program_id).await)
        .await?
        .ok_or(ServiceError::NotFound("mini program"))?;
    // The same figures at every start of a fresh demo.
    let mut rng = StdRng::seed_from_u64(fleet.devices as u64);
    let now = Utc::now();
    let start = now - TimeDelta::hours(fleet.hours);
    let mut devices: Vec<Device> = (0..fleet.devices)
        .map(|i| {
            let mut draw = rng.random::<f64>();
            let cached = fleet.cached.iter().find_map(|(version, share)| {
                draw -= share;
                (draw < 0.0)
                    .then(|| VersionNumber::parse(version).ok())
                    .flatten()
            });
            Device {
                id: format!("demo-device-{i:05}"),
                cached,
                updated_at: start - TimeDelta::hours(rng.random_range(1..24 * 20)),
                downloaded: None,
            }
        })
        .collect();
    let check_ins = CheckIns::new(true);
    for hour in 0..fleet.hours {
        // Fewer opens at night.
        let daily = 0.6 + 0.4 * ((hour % 24) as f64 / 24.0 * std::f64::consts::TAU).sin();
        for device in &mut devices {
            if rng.random::<f64>() >= fleet.opens_per_hour * daily {
                continue;
            }
            let at = start + TimeDelta::hours(hour) + TimeDelta::minutes(rng.random_range(0..60));
            if let Some(version) = device.downloaded.take() {
                device.cached = Some(version);
                device.updated_at = at - TimeDelta::minutes(5);
            }
            let age = u64::try_from((at - device.updated_at).num_seconds()).unwrap_or(0);
            let request = LaunchRequest {
                device_id: device.id.clone(),
                cached_version: device.cached,
                cache_age_seconds: Some(age),
            };
            let decision = decide_launch(&policy, &request);
            check_ins.count_at(at, mini_program_id, &request, &decision);
            match decision.action {
                LaunchAction::SyncDownload => {
                    device.cached = decision.target_version;
                    device.updated_at = at;
                }
                LaunchAction::AsyncDownload => device.downloaded = decision.target_version,
                LaunchAction::None => {}
            }
        }
    }
    check_ins.flush(db).await?;
    Ok(())
}
