//! The programs listed on one page, so that what each of them shows under it
//! (its first page of versions, how many versions it has) is read for the
//! whole page at once: the statements of a page do not grow with its size.
//!
//! What the query's selection shows under the programs is read with the
//! page itself, in its one statement (`shown`). A list the selection did not
//! reveal is read when the first program asks for it, for all of them; the
//! others wait for that read and take their part.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use async_graphql::{Context, SelectionField, Value};
use tokio::sync::OnceCell;

use crate::domain::{MiniProgram, MiniProgramVersion, Principal, VersionStatus, VersionSummary};
use crate::service::mini_programs::{ListedPage, Shown, ShownList};
use crate::service::page::{DEFAULT_PAGE_SIZE, Page};
use crate::service::{ServiceError, Services, versions};
use crate::sync::lock;

/// At most this many distinct version lists are read with the page; more
/// are read one statement each, so that the statement's text stays small.
const MAX_SHOWN_LISTS: usize = 4;

/// The `versions` arguments a page is read for: statuses and `first`.
type VersionsArguments = (Vec<VersionStatus>, Option<i32>);

/// A version under a listed program: whole when its list was read on its
/// own, a summary when it was read with the page.
pub enum ListedVersion {
    Whole(MiniProgramVersion),
    Summary(VersionSummary),
}

/// Each program's page, until it is taken.
type PagesByProgram = Mutex<HashMap<String, Page<ListedVersion>>>;

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

    /// A read already done, with the page.
    fn done(&self, key: K, value: V) {
        lock(&self.0).insert(key, Arc::new(OnceCell::new_with(Some(value))));
    }
}

pub struct Listing {
    programs: Vec<MiniProgram>,
    /// By the arguments of `versions`: the pages not yet taken.
    versions: Reads<VersionsArguments, PagesByProgram>,
    /// By the statuses counted.
    counts: Reads<Vec<VersionStatus>, HashMap<String, i64>>,
    /// The versions read as summaries, whose whole records are read
    /// together when a field first needs one.
    summarised: Vec<String>,
    whole: OnceCell<HashMap<String, MiniProgramVersion>>,
}

impl Listing {
    /// The listing of a page, with the lists that were read with it.
    pub fn new(page: ListedPage) -> (Page<MiniProgram>, Self) {
        let versions = Reads::default();
        let counts = Reads::default();
        let mut summarised = Vec::new();
        let mut pages: Vec<HashMap<String, Page<ListedVersion>>> =
            page.lists.iter().map(|_| HashMap::new()).collect();
        let mut counted: Vec<HashMap<String, i64>> =
            page.lists.iter().map(|_| HashMap::new()).collect();
        let programs = page.programs.map(|listed| {
            for (index, list) in listed.versions.into_iter().enumerate() {
                summarised.extend(list.items.iter().map(|(_, v)| v.id.clone()));
                pages[index].insert(listed.program.id.clone(), list.map(ListedVersion::Summary));
            }
            for (index, count) in listed.counts.into_iter().enumerate() {
                if let Some(count) = count {
                    counted[index].insert(listed.program.id.clone(), count);
                }
            }
            listed.program
        });
        for ((list, pages), counted) in page.lists.into_iter().zip(pages).zip(counted) {
            if list.counted {
                counts.done(list.statuses.clone(), counted);
            }
            versions.done((list.statuses, list.first), Mutex::new(pages));
        }
        let listing = Self {
            programs: programs.items.iter().map(|(_, p)| p.clone()).collect(),
            versions,
            counts,
            summarised,
            whole: OnceCell::new(),
        };
        (programs, listing)
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
    ) -> Result<Option<Page<ListedVersion>>, ServiceError> {
        let cell = self.versions.of((statuses.to_vec(), first));
        let pages = cell
            .get_or_try_init(|| async {
                let pages =
                    versions::first_pages(services, principal, &self.programs, statuses, first)
                        .await?;
                Ok::<_, ServiceError>(Mutex::new(
                    pages
                        .into_iter()
                        .map(|(id, page)| (id, page.map(ListedVersion::Whole)))
                        .collect(),
                ))
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

    /// The whole record of a version read as a summary with the page.
    pub async fn whole_version(
        &self,
        services: &Services,
        principal: &Principal,
        id: &str,
    ) -> Result<&MiniProgramVersion, ServiceError> {
        let whole = self
            .whole
            .get_or_try_init(|| async {
                let ids: Vec<&str> = self.summarised.iter().map(String::as_str).collect();
                let found = versions::listed(services, principal, &self.programs, &ids).await?;
                Ok::<_, ServiceError>(
                    found
                        .into_iter()
                        .map(|version| (version.id.clone(), version))
                        .collect(),
                )
            })
            .await?;
        whole.get(id).ok_or(ServiceError::NotFound("version"))
    }
}

/// What the `miniPrograms` selection shows under its programs: whether it
/// counts them, and each `versions` list of a program that starts at the
/// first page. A list this misses (under a `@skip`, say) is still answered,
/// read on its own; one it reads too many is read for nothing.
pub fn shown(ctx: &Context<'_>) -> Shown {
    let page = ctx.look_ahead();
    let nodes = page
        .field("nodes")
        .selection_fields()
        .into_iter()
        .chain(page.field("edges").field("node").selection_fields());
    Shown {
        total: page.field("totalCount").exists(),
        lists: shown_lists(nodes),
    }
}

/// What the `miniProgram` selection shows under the program.
pub fn shown_under_program(ctx: &Context<'_>) -> Shown {
    Shown {
        total: false,
        lists: shown_lists(ctx.look_ahead().selection_fields()),
    }
}

fn shown_lists<'a>(programs: impl IntoIterator<Item = SelectionField<'a>>) -> Vec<ShownList> {
    let mut lists: Vec<ShownList> = Vec::new();
    for program in programs {
        for field in program.selection_set().filter(|f| f.name() == "versions") {
            let Some(list) = field
                .arguments()
                .ok()
                .and_then(|arguments| shown_list(&arguments))
            else {
                continue;
            };
            let counted = field.selection_set().any(|f| f.name() == "totalCount");
            let known = lists
                .iter()
                .position(|known| (&known.statuses, known.first) == (&list.statuses, list.first));
            match known {
                Some(index) => lists[index].counted |= counted,
                None if lists.len() < MAX_SHOWN_LISTS => lists.push(ShownList { counted, ..list }),
                None => {}
            }
        }
    }
    lists
}

/// The list that `versions` arguments ask for, if it starts at the first
/// page and its arguments are well formed (else it is left to be refused).
fn shown_list(arguments: &[(async_graphql::Name, Value)]) -> Option<ShownList> {
    let mut list = ShownList {
        statuses: Vec::new(),
        first: Some(DEFAULT_PAGE_SIZE),
        counted: false,
    };
    for (name, value) in arguments {
        match (name.as_str(), value) {
            ("after", Value::Null) => {}
            ("after", _) => return None,
            ("first", Value::Null) => list.first = None,
            ("first", Value::Number(n)) => list.first = Some(i32::try_from(n.as_i64()?).ok()?),
            ("status", Value::Null) => {}
            ("status", Value::List(statuses)) => {
                list.statuses = statuses.iter().map(status).collect::<Option<_>>()?;
            }
            // A single value stands for a list of one.
            ("status", single) => list.statuses = vec![status(single)?],
            _ => return None,
        }
    }
    Some(list)
}

fn status(value: &Value) -> Option<VersionStatus> {
    match value {
        Value::Enum(name) => VersionStatus::from_name(name.as_str()),
        Value::String(name) => VersionStatus::from_name(name),
        _ => None,
    }
}
