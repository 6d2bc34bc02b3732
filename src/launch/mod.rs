//! Launch answers for super apps, served from memory: a snapshot of every
//! program's launch policy and of the active client keys, refreshed when a
//! change commits (in this process directly, in others through PostgreSQL
//! notifications), so that a launch request runs no SQL. The process is
//! ready once the keys are read; the policies are read in pages behind it,
//! and until they all are, a program not read yet is read on its own.

pub mod change;
mod follower;
mod limit;
mod signing;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;

pub use change::PolicyChange;
pub use follower::follow_changes;
pub use limit::LaunchLimiter;
pub use signing::LaunchSigner;

use crate::db::launch_policies;
use crate::db::{Database, StorageError};
use crate::domain::{LaunchDecision, LaunchPolicy, LaunchRequest, client_key_hash, decide_launch};
use crate::sync::{read, write};

/// Why a launch request gets no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaunchRefusal {
    /// The client key is missing, unknown or revoked.
    UnknownKey,
    /// The key's workspace has no such program.
    NoSuchProgram,
    /// The program's policy could not be read (the first load is still
    /// running and the database did not answer).
    Unavailable,
}

/// How many programs' policies one read of the first load takes.
const LOAD_PAGE: i64 = 5_000;

/// How long the first load waits after a failed read before trying again.
const LOAD_RETRY: Duration = Duration::from_secs(1);

pub struct LaunchPolicies {
    db: Database,
    snapshot: RwLock<Snapshot>,
    /// Whether the first load is done.
    loaded: watch::Sender<bool>,
    /// Active client keys by hash, with their workspace.
    keys: RwLock<HashMap<String, String>>,
}

#[derive(Default)]
struct Snapshot {
    programs: HashMap<String, LaunchPolicy>,
    /// While the first load runs, the programs found gone meanwhile, which
    /// its pages (read earlier) must not bring back; `None` once it is done.
    loading: Option<HashSet<String>>,
}

impl Snapshot {
    /// Keeps `policy` unless the snapshot holds a later revision of it:
    /// reads that overlap (a refresh, a resync, a page of the first load)
    /// may finish out of order.
    fn keep(&mut self, policy: LaunchPolicy) {
        match self.programs.get_mut(&policy.mini_program_id) {
            Some(held) if held.revision > policy.revision => {}
            Some(held) => *held = policy,
            None => {
                self.programs.insert(policy.mini_program_id.clone(), policy);
            }
        }
    }

    fn remove(&mut self, id: &str) {
        self.programs.remove(id);
        if let Some(gone) = &mut self.loading {
            gone.insert(id.to_owned());
        }
    }

    /// The programs to read again, given every program's policy revision:
    /// those whose revision moved or that are not held, and those held but
    /// gone from the database (read again rather than dropped, in case one
    /// was created after the revisions were read).
    fn stale(&self, revisions: &[(String, i32)]) -> Vec<String> {
        let current: HashSet<&str> = revisions.iter().map(|(id, _)| id.as_str()).collect();
        let moved = revisions
            .iter()
            .filter(|(id, revision)| {
                self.programs
                    .get(id)
                    .is_none_or(|policy| policy.revision < *revision)
            })
            .map(|(id, _)| id.as_str());
        let gone = self
            .programs
            .keys()
            .map(String::as_str)
            .filter(|id| !current.contains(id));
        moved.chain(gone).map(str::to_owned).collect()
    }

    /// Takes what was read again of the `stale` programs: the policies
    /// found, and the absence of the others.
    fn catch_up(&mut self, stale: &[&str], policies: Vec<LaunchPolicy>) {
        let found: HashSet<&str> = policies
            .iter()
            .map(|policy| policy.mini_program_id.as_str())
            .collect();
        let gone: Vec<&str> = stale
            .iter()
            .copied()
            .filter(|id| !found.contains(id))
            .collect();
        for id in gone {
            self.remove(id);
        }
        for policy in policies {
            self.keep(policy);
        }
    }

    /// Keeps a page of the first load, but not a program found gone since.
    fn keep_page(&mut self, page: Vec<LaunchPolicy>) {
        for policy in page {
            let gone = self
                .loading
                .as_ref()
                .is_some_and(|gone| gone.contains(&policy.mini_program_id));
            if !gone {
                self.keep(policy);
            }
        }
    }
}

impl LaunchPolicies {
    /// Reads the client keys and starts reading the policies behind the
    /// process's readiness (`load_programs`).
    pub async fn start(db: Database) -> Result<Arc<Self>, StorageError> {
        let keys = db
            .read(async |conn| launch_policies::active_client_keys(conn).await)
            .await?;
        let policies = Arc::new(Self {
            db,
            snapshot: RwLock::new(Snapshot {
                programs: HashMap::new(),
                loading: Some(HashSet::new()),
            }),
            loaded: watch::Sender::new(false),
            keys: RwLock::new(keys.into_iter().collect()),
        });
        tokio::spawn(policies.clone().load_programs());
        Ok(policies)
    }

    /// The first load: every program's policy, a page at a time.
    async fn load_programs(self: Arc<Self>) {
        // Sized once: growing by doubling would leave each smaller table
        // behind in the allocator, as much again as the snapshot.
        match self
            .db
            .read(async |conn| launch_policies::count(conn).await)
            .await
        {
            Ok(count) => write(&self.snapshot)
                .programs
                .reserve(usize::try_from(count).unwrap_or_default()),
            Err(error) => tracing::warn!(%error, "cannot count the programs"),
        }
        let mut after: Option<String> = None;
        loop {
            let page = self
                .db
                .read(async |conn| {
                    launch_policies::load_page(conn, after.as_deref(), LOAD_PAGE).await
                })
                .await;
            let page = match page {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "cannot read launch policies; trying again");
                    tokio::time::sleep(LOAD_RETRY).await;
                    continue;
                }
            };
            let last = page
                .iter()
                .map(|policy| &policy.mini_program_id)
                .max()
                .cloned();
            let full = page.len() as i64 == LOAD_PAGE;
            let mut snapshot = write(&self.snapshot);
            snapshot.keep_page(page);
            if !full {
                snapshot.loading = None;
                tracing::info!(programs = snapshot.programs.len(), "launch policies loaded");
                drop(snapshot);
                self.loaded.send_replace(true);
                return;
            }
            after = last;
        }
    }

    /// The workspace of an active client key.
    pub fn authenticate(&self, client_key: Option<&str>) -> Result<String, LaunchRefusal> {
        let hash = client_key_hash(client_key.ok_or(LaunchRefusal::UnknownKey)?);
        read(&self.keys)
            .get(&hash)
            .cloned()
            .ok_or(LaunchRefusal::UnknownKey)
    }

    /// What a device of `workspace` does when it opens the program.
    pub async fn answer(
        &self,
        workspace: &str,
        mini_program_id: &str,
        request: &LaunchRequest,
    ) -> Result<LaunchDecision, LaunchRefusal> {
        if let Some(answer) = self.answer_from_snapshot(workspace, mini_program_id, request)? {
            return Ok(answer);
        }
        // The first load has not reached this program yet.
        self.refresh(&PolicyChange::Program(mini_program_id.to_owned()), None)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "cannot read a launch policy");
                LaunchRefusal::Unavailable
            })?;
        self.answer_from_snapshot(workspace, mini_program_id, request)?
            .ok_or(LaunchRefusal::NoSuchProgram)
    }

    /// The answer, or `None` when the program is not read yet.
    fn answer_from_snapshot(
        &self,
        workspace: &str,
        mini_program_id: &str,
        request: &LaunchRequest,
    ) -> Result<Option<LaunchDecision>, LaunchRefusal> {
        let snapshot = read(&self.snapshot);
        match snapshot.programs.get(mini_program_id) {
            Some(policy) if policy.workspace_id == workspace => {
                Ok(Some(decide_launch(policy, request)))
            }
            Some(_) => Err(LaunchRefusal::NoSuchProgram),
            None if snapshot.loading.is_some() => Ok(None),
            None => Err(LaunchRefusal::NoSuchProgram),
        }
    }

    /// Catches up with what may have been missed (notifications lost while
    /// disconnected, or never sent): reads every program's policy revision
    /// and only the policies that moved, so the snapshot is never held
    /// twice. It waits for the first load, which would otherwise be read
    /// twice over, and then also catches what changed while its pages were
    /// read.
    pub async fn resync(&self) -> Result<(), StorageError> {
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = self.loaded.subscribe().wait_for(|loaded| *loaded).await;
        let revisions = self
            .db
            .read(async |conn| launch_policies::revisions(conn).await)
            .await?;
        let stale = read(&self.snapshot).stale(&revisions);
        drop(revisions);
        let stale: Vec<&str> = stale.iter().map(String::as_str).collect();
        let (policies, keys) = self
            .db
            .read(async |conn| {
                let policies = launch_policies::load_each(conn, &stale).await?;
                Ok::<_, StorageError>((policies, launch_policies::active_client_keys(conn).await?))
            })
            .await?;
        write(&self.snapshot).catch_up(&stale, policies);
        *write(&self.keys) = keys.into_iter().collect();
        tracing::debug!(read = stale.len(), "launch snapshot resynced");
        Ok(())
    }

    /// Reads again what a committed change touched, unless the snapshot
    /// already holds the policy revision the change committed.
    pub async fn refresh(
        &self,
        change: &PolicyChange,
        revision: Option<i32>,
    ) -> Result<(), StorageError> {
        match change {
            PolicyChange::Program(id) => {
                let held = read(&self.snapshot)
                    .programs
                    .get(id)
                    .map(|policy| policy.revision);
                if held
                    .zip(revision)
                    .is_some_and(|(held, committed)| held >= committed)
                {
                    return Ok(());
                }
                let policy = self
                    .db
                    .read(async |conn| launch_policies::load(conn, id).await)
                    .await?;
                let mut snapshot = write(&self.snapshot);
                match policy {
                    Some(policy) => snapshot.keep(policy),
                    None => snapshot.remove(id),
                }
            }
            PolicyChange::ClientKeys => {
                let keys = self
                    .db
                    .read(async |conn| launch_policies::active_client_keys(conn).await)
                    .await?;
                *write(&self.keys) = keys.into_iter().collect();
            }
        }
        Ok(())
    }

    /// Refreshes after a commit of this process; a failure only delays the
    /// change until the next resync, since the commit stands.
    pub async fn committed(&self, change: PolicyChange) {
        if let Err(error) = self.refresh(&change, None).await {
            tracing::warn!(%error, ?change, "cannot refresh the launch snapshot");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{UpdateMode, UpdateTimers};

    fn policy(id: &str, revision: i32) -> LaunchPolicy {
        LaunchPolicy {
            mini_program_id: id.into(),
            workspace_id: "acme".into(),
            global_update_mode: UpdateMode::Default,
            timers: UpdateTimers::default(),
            full: None,
            gray: None,
            minimum_version: None,
            rolled_back: Vec::new(),
            revision,
        }
    }

    fn revisions(snapshot: &Snapshot) -> Vec<(&str, i32)> {
        let mut held: Vec<_> = snapshot
            .programs
            .values()
            .map(|policy| (policy.mini_program_id.as_str(), policy.revision))
            .collect();
        held.sort();
        held
    }

    #[test]
    fn a_read_that_finishes_late_does_not_undo_a_newer_one() {
        let mut snapshot = Snapshot::default();
        snapshot.keep(policy("a", 3));
        snapshot.keep(policy("a", 2));
        assert_eq!(revisions(&snapshot), [("a", 3)]);
        snapshot.keep(policy("a", 4));
        assert_eq!(revisions(&snapshot), [("a", 4)]);
    }

    #[test]
    fn a_resync_reads_again_what_moved_is_new_or_is_gone() {
        let mut snapshot = Snapshot::default();
        for (id, revision) in [("same", 2), ("moved", 2), ("gone", 1)] {
            snapshot.keep(policy(id, revision));
        }
        let in_database = [("same", 2), ("moved", 3), ("new", 1)].map(|(id, r)| (id.to_owned(), r));
        let mut stale = snapshot.stale(&in_database);
        stale.sort();
        assert_eq!(stale, ["gone", "moved", "new"]);

        // "gone" is not found when read again; the others are.
        snapshot.catch_up(
            &["gone", "moved", "new"],
            vec![policy("moved", 3), policy("new", 1)],
        );
        assert_eq!(
            revisions(&snapshot),
            [("moved", 3), ("new", 1), ("same", 2)]
        );
    }

    #[test]
    fn the_first_load_brings_back_no_program_found_gone_meanwhile() {
        let mut snapshot = Snapshot {
            loading: Some(HashSet::new()),
            ..Snapshot::default()
        };
        // Read by a refresh while the first load runs, then deleted.
        snapshot.keep(policy("gone", 1));
        snapshot.remove("gone");
        // Changed and read again while the load's page was in flight.
        snapshot.keep(policy("changed", 5));
        snapshot.keep_page(vec![
            policy("gone", 1),
            policy("changed", 4),
            policy("kept", 1),
        ]);
        assert_eq!(revisions(&snapshot), [("changed", 5), ("kept", 1)]);

        // Once loaded, a program removed is simply gone.
        snapshot.loading = None;
        snapshot.remove("kept");
        assert_eq!(revisions(&snapshot), [("changed", 5)]);
    }
}
