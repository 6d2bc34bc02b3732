//! The programs listed on one page, so that what each of them shows under it
//! (its first page of versions, how many versions it has) is read for the
//! whole page at once: the statements of a page do not grow with its size.
//! The first program to ask reads for all of them; the others wait for that
//! read and take their part.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::domain::{MiniProgram, MiniProgramVersion, Principal, VersionStatus};
use crate::service::page::Page;
use crate::service::{ServiceError, Services, versions};
use crate::sync::lock;

/// The `versions` arguments a page is read for: statuses and `first`.
type VersionsArguments = (Vec<VersionStatus>, Option<i32>);

/// Each program's page, until it is taken.
type PagesByProgram = Mutex<HashMap<String, Page<MiniProgramVersion>>>;

/// One read per key, shared by everyone who asks with that key.
struct Reads<K, V>(Mutex<HashMap<K, Arc<OnceCell<V>>>>);

impl<K: Eq + Hash, V> Default for Reads<K, V> {
    fn default() -> Self {
        Self(Mutex::default())
    }
}

impl<K: Eq + Hash, V> Reads<K, V> {
    fn of(&self, key: K) -> Arc<OnceCell<V>> {
        let mut reads = lock(&self.0);
        reads.entry(key).or_default().clone()
    }
}

pub struct Listing {
    programs: Vec<MiniProgram>,
    /// By the arguments of `versions`: the pages not yet taken.
    versions: Reads<VersionsArguments, PagesByProgram>,
    /// By the statuses counted.
    counts: Reads<Vec<VersionStatus>, HashMap<String, i64>>,
}

impl Listing {
    pub fn new(programs: Vec<MiniProgram>) -> Self {
        Self {
            programs,
            versions: Reads::default(),
            counts: Reads::default(),
        }
    }

    /// The first page of `program_id`'s versions; `None` when it was taken
    /// already (the same list asked for twice), to be read on its own.
    pub async fn first_page(
        &self,
        services: &Services,
        principal: &Principal,
        program_id: &str,
        statuses: &[VersionStatus],
        first: Option<i32>,
    ) -> Result<Option<Page<MiniProgramVersion>>, ServiceError> {
        let cell = self.versions.of((statuses.to_vec(), first));
        let pages = cell
            .get_or_try_init(|| async {
                versions::first_pages(services, principal, &self.programs, statuses, first)
                    .await
                    .map(Mutex::new)
            })
            .await?;
        let mut pages = lock(pages);
        Ok(pages.remove(program_id))
    }

    /// How many versions in `statuses` `program_id` has.
    pub async fn version_count(
        &self,
        services: &Services,
        principal: &Principal,
        program_id: &str,
        statuses: &[VersionStatus],
    ) -> Result<Option<i64>, ServiceError> {
        let cell = self.counts.of(statuses.to_vec());
        let counts = cell
            .get_or_try_init(|| versions::counts(services, principal, &self.programs, statuses))
            .await?;
        Ok(counts.get(program_id).copied())
    }
}
