//! The demo workspace that a fresh development installation starts with, so
//! that GraphiQL and the console have something to show: programs of every
//! type and channel, versions in every status, an update mode history, a
//! rollback and a rollout plan in progress, and a week of check-ins.
//! It is built through the same use cases as any client's requests.

mod fleet;

use super::mini_programs::{self, CreateMiniProgram};
use super::rollouts;
use super::versions::{self, CreateVersion};
use super::{Actor, ServiceError, Services};
use crate::domain::ProgramFilter;
use crate::domain::{
    MiniProgramChannel, MiniProgramType, Principal, ReleaseDecision, RequestedStep, Role,
    UpdateMode,
};
use fleet::Fleet;

/// A day, the hold of each step of the demo's rollout plan.
const DAY: i32 = 86_400;

pub const DEMO_WORKSPACE: &str = "demo";

/// How far a demo version goes through the lifecycle.
#[derive(Clone, Copy)]
enum Stage {
    Created,
    Submitted,
    Rejected,
    Approved,
    Gray(i32),
    Released,
    /// Approved, then released by a rollout plan of these steps.
    RollingOut(&'static [(i32, i32)]),
}

/// Seeds the demo workspace unless it already has programs. Returns whether it did.
pub async fn seed_if_empty(services: &Services) -> Result<bool, ServiceError> {
    let seeder = Principal {
        subject: "demo-seed".into(),
        workspace_id: DEMO_WORKSPACE.into(),
        roles: [Role::WorkspaceAdmin].into(),
    };
    if mini_programs::count(services, &seeder, &ProgramFilter::default()).await? > 0 {
        return Ok(false);
    }
    let actor = Actor {
        principal: &seeder,
        request_id: None,
    };
    let demo = Demo {
        services,
        seeder: actor,
    };

    // A DSL program with its history: each released version keeps the mode
    // it was submitted with while the global mode moved on.
    let mall = demo
        .program("Mall", MiniProgramType::Dsl, MiniProgramChannel::Workspace)
        .await?;
    demo.version(&mall, "1.0.0", "First release", Stage::Released)
        .await?;
    mini_programs::change_update_mode(services, actor, &mall, UpdateMode::Async, None).await?;
    demo.version(&mall, "1.1.0", "Faster start", Stage::Released)
        .await?;
    demo.version(&mall, "1.2.0", "Experimental cart", Stage::Rejected)
        .await?;
    mini_programs::change_update_mode(services, actor, &mall, UpdateMode::Sync, None).await?;
    demo.version(&mall, "1.3.0", "Checkout redesign", Stage::Submitted)
        .await?;
    demo.version(&mall, "1.4.0", "Dark mode", Stage::Created)
        .await?;

    let coupons = demo
        .program(
            "Coupons",
            MiniProgramType::Dsl,
            MiniProgramChannel::Workspace,
        )
        .await?;
    demo.version(&coupons, "2.0.0", "Coupon wallet", Stage::Released)
        .await?;
    demo.version(&coupons, "2.1.0", "Shared coupons", Stage::Gray(20))
        .await?;
    mini_programs::change_update_mode(services, actor, &coupons, UpdateMode::Async, None).await?;
    demo.version(&coupons, "2.2.0", "Coupon reminders", Stage::Approved)
        .await?;

    let guide = demo
        .program(
            "Travel Guide",
            MiniProgramType::H5,
            MiniProgramChannel::Workspace,
        )
        .await?;
    demo.version(&guide, "1.0.0", "City guides", Stage::Released)
        .await?;

    let rewards = demo
        .program(
            "Alipay+ Rewards",
            MiniProgramType::Dsl,
            MiniProgramChannel::AlipayPlus,
        )
        .await?;
    demo.version(&rewards, "3.2.0", "Synced from Alipay+", Stage::Released)
        .await?;

    // Release control: a release that was rolled back, and its fix rolling
    // out a step a day.
    let loyalty = demo
        .program(
            "Loyalty",
            MiniProgramType::Dsl,
            MiniProgramChannel::Workspace,
        )
        .await?;
    demo.version(&loyalty, "1.0.0", "Points card", Stage::Released)
        .await?;
    demo.version(&loyalty, "1.1.0", "Double points", Stage::Released)
        .await?;
    versions::roll_back(
        services,
        actor,
        &loyalty,
        "Points were doubled twice at checkout",
    )
    .await?;
    demo.version(
        &loyalty,
        "1.1.1",
        "Double points, counted once",
        Stage::RollingOut(&[(5, DAY), (25, DAY), (50, DAY), (100, 0)]),
    )
    .await?;

    // Adoption to look at: a week of Mall's 1.1.0 taking over from 1.0.0,
    // Coupons with a gray version, and a day of Loyalty's rollback.
    let fleets = [
        (
            &mall,
            Fleet {
                devices: 1_800,
                hours: 7 * 24,
                opens_per_hour: 0.05,
                cached: &[("1.0.0", 0.8), ("1.1.0", 0.12)],
            },
        ),
        (
            &coupons,
            Fleet {
                devices: 1_200,
                hours: 7 * 24,
                opens_per_hour: 0.04,
                cached: &[("2.0.0", 0.9)],
            },
        ),
        (
            &loyalty,
            Fleet {
                devices: 1_500,
                hours: 24,
                opens_per_hour: 0.06,
                cached: &[("1.1.0", 0.55), ("1.0.0", 0.4)],
            },
        ),
    ];
    for (program, fleet) in &fleets {
        fleet::simulate(&services.db, program, fleet).await?;
    }
    Ok(true)
}

struct Demo<'a> {
    services: &'a Services,
    seeder: Actor<'a>,
}

impl Demo<'_> {
    async fn program(
        &self,
        name: &str,
        program_type: MiniProgramType,
        channel: MiniProgramChannel,
    ) -> Result<String, ServiceError> {
        let input = CreateMiniProgram {
            name: name.into(),
            program_type,
            channel,
        };
        Ok(mini_programs::create(self.services, self.seeder, input)
            .await?
            .id)
    }

    async fn version(
        &self,
        program_id: &str,
        version: &str,
        description: &str,
        stage: Stage,
    ) -> Result<(), ServiceError> {
        let (services, seeder) = (self.services, self.seeder);
        let input = CreateVersion {
            mini_program_id: program_id.into(),
            version: version.into(),
            description: Some(description.into()),
        };
        let id = versions::create(services, seeder, input).await?.id;
        if matches!(stage, Stage::Created) {
            return Ok(());
        }
        versions::submit_for_release_approval(services, seeder, &id).await?;
        let decision = match stage {
            Stage::Created | Stage::Submitted => return Ok(()),
            Stage::Rejected => ReleaseDecision::Reject,
            Stage::Approved | Stage::Gray(_) | Stage::Released | Stage::RollingOut(_) => {
                ReleaseDecision::Approve
            }
        };
        versions::decide_release(services, seeder, &id, decision, None).await?;
        match stage {
            Stage::Gray(percentage) => {
                versions::release(services, seeder, &id, Some(percentage)).await?;
            }
            Stage::Released => {
                versions::release(services, seeder, &id, None).await?;
            }
            Stage::RollingOut(steps) => {
                let steps: Vec<RequestedStep> = steps
                    .iter()
                    .map(|&(percentage, hold_seconds)| RequestedStep {
                        percentage,
                        hold_seconds,
                    })
                    .collect();
                rollouts::start(services, seeder, &id, &steps).await?;
            }
            _ => {}
        }
        Ok(())
    }
}
