//! Persisted queries: the automatic persisted query protocol that Apollo
//! clients speak (once the server has seen a document, a request may carry
//! only its SHA-256), and an allow-list of operations that partner tokens
//! are held to.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::ServiceError;
use crate::db::{Database, persisted_queries as repository};
use crate::domain::{Principal, Role, sha256_hex};
use crate::sync::{read, write};

/// Documents kept in memory per process; beyond this they are read from the
/// database.
const CACHED_DOCUMENTS: usize = 10_000;

/// How often a process records that it still uses a cached document: far
/// more often than the documents' time to live, far less than per request.
const RECORD_USE_EVERY: Duration = Duration::from_secs(3600);

/// Why a request's persisted query could not be used.
#[derive(Debug)]
pub enum PersistedQueryError {
    /// The hash is not known yet: the client sends the document with it.
    NotFound,
    /// The document sent does not have the hash sent with it.
    HashMismatch,
    /// The principal may only run allow-listed operations.
    NotAllowed,
    Storage(ServiceError),
}

/// The operations partner tokens may run, by hash, and who is held to them.
pub struct AllowList {
    documents: HashMap<String, Arc<str>>,
    /// A principal whose every role is one of these is held to the list.
    roles: BTreeSet<Role>,
}

impl AllowList {
    /// Reads an Apollo persisted query manifest
    /// (`{"format":"apollo-persisted-query-manifest","version":1,"operations":[{"id","body",...}]}`);
    /// each `id` must be the SHA-256 of its `body`.
    pub fn from_manifest(manifest: &[u8], roles: BTreeSet<Role>) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Manifest {
            format: String,
            version: u32,
            operations: Vec<Operation>,
        }
        #[derive(Deserialize)]
        struct Operation {
            id: String,
            body: String,
        }
        let manifest: Manifest = serde_json::from_slice(manifest)
            .map_err(|error| format!("not a persisted query manifest: {error}"))?;
        if manifest.format != "apollo-persisted-query-manifest" || manifest.version != 1 {
            return Err("expected format apollo-persisted-query-manifest, version 1".into());
        }
        let mut documents = HashMap::new();
        for operation in manifest.operations {
            if sha256_hex(&operation.body) != operation.id {
                return Err(format!(
                    "operation {} does not have the SHA-256 of its body as id",
                    operation.id
                ));
            }
            documents.insert(operation.id, Arc::from(operation.body));
        }
        Ok(Self { documents, roles })
    }

    fn binds(&self, principal: &Principal) -> bool {
        !principal.roles.is_empty() && principal.roles.is_subset(&self.roles)
    }
}

pub struct PersistedQueries {
    db: Database,
    /// A hash names one document forever, so a copy here never goes stale;
    /// with when this process last recorded its use.
    cached: RwLock<HashMap<String, (Arc<str>, Instant)>>,
    allow_list: Option<AllowList>,
    /// Documents nobody used for this long are removed.
    time_to_live: Duration,
}

impl PersistedQueries {
    pub fn new(db: Database, allow_list: Option<AllowList>, time_to_live: Duration) -> Self {
        Self {
            db,
            cached: RwLock::default(),
            allow_list,
            time_to_live,
        }
    }

    /// Fills in the document of a request that sent only its hash (`query`
    /// empty), registers the document of one that sent both, and holds
    /// partner tokens to the allow-list.
    pub async fn resolve(
        &self,
        query: &mut String,
        hash: Option<String>,
        principal: &Principal,
    ) -> Result<(), PersistedQueryError> {
        let hash = match hash {
            Some(hash) if query.is_empty() => {
                *query = self.document(&hash, principal).await?.to_string();
                Some(hash)
            }
            Some(hash) => {
                if sha256_hex(query) != hash {
                    return Err(PersistedQueryError::HashMismatch);
                }
                self.register(&stored_key(principal, &hash), query).await?;
                Some(hash)
            }
            None => None,
        };
        match &self.allow_list {
            Some(list) if list.binds(principal) => {
                // Hashed here only: most requests are not held to the list.
                let hash = hash.unwrap_or_else(|| sha256_hex(query));
                if list.documents.contains_key(&hash) {
                    Ok(())
                } else {
                    Err(PersistedQueryError::NotAllowed)
                }
            }
            _ => Ok(()),
        }
    }

    async fn document(
        &self,
        hash: &str,
        principal: &Principal,
    ) -> Result<Arc<str>, PersistedQueryError> {
        // The allow-list is the operator's, the same for every workspace.
        if let Some(document) = self
            .allow_list
            .as_ref()
            .and_then(|list| list.documents.get(hash))
        {
            return Ok(document.clone());
        }
        let hash = &stored_key(principal, hash);
        if let Some((document, recorded)) = self.read_cache(hash) {
            if recorded.elapsed() >= RECORD_USE_EVERY {
                self.db
                    .write(async |tx| repository::touch(tx, hash).await)
                    .await
                    .map_err(|error| PersistedQueryError::Storage(error.into()))?
                    .owing_nothing();
                self.remember(hash, document.clone());
            }
            return Ok(document);
        }
        let document: Arc<str> = self
            .db
            .read(async |conn| repository::find(conn, hash).await)
            .await
            .map_err(|error| PersistedQueryError::Storage(error.into()))?
            .ok_or(PersistedQueryError::NotFound)?
            .into();
        self.db
            .write(async |tx| repository::touch(tx, hash).await)
            .await
            .map_err(|error| PersistedQueryError::Storage(error.into()))?
            .owing_nothing();
        self.remember(hash, document.clone());
        Ok(document)
    }

    /// Only documents that parse are kept: the table is not a free store.
    /// `hash` is the workspace's key of the document (`stored_key`).
    /// Registering is the only way the table grows, so it also removes what
    /// nobody used within the time to live.
    async fn register(&self, hash: &str, document: &str) -> Result<(), PersistedQueryError> {
        if self.read_cache(hash).is_some() || async_graphql::parser::parse_query(document).is_err()
        {
            return Ok(());
        }
        let expired = chrono::Utc::now().naive_utc()
            - chrono::Duration::from_std(self.time_to_live).unwrap_or(chrono::Duration::MAX);
        self.db
            .write(async |tx| {
                repository::save(tx, hash, document).await?;
                repository::remove_unused(tx, expired).await
            })
            .await
            .map_err(|error| PersistedQueryError::Storage(error.into()))?
            .owing_nothing();
        self.remember(hash, Arc::from(document));
        Ok(())
    }

    fn read_cache(&self, hash: &str) -> Option<(Arc<str>, Instant)> {
        let cached = read(&self.cached);
        cached.get(hash).cloned()
    }

    fn remember(&self, hash: &str, document: Arc<str>) {
        let mut cached = write(&self.cached);
        if cached.len() < CACHED_DOCUMENTS || cached.contains_key(hash) {
            cached.insert(hash.to_owned(), (document, Instant::now()));
        }
    }
}

/// Where a workspace's document is stored and cached: a document is found
/// only by the workspace that registered it. Had the store been shared, a
/// hash-only request would tell any caller whether anyone, in any workspace,
/// had sent a document it guessed, literals (names, search texts) included.
/// The length prefix keeps two workspace ids from ever making one key.
fn stored_key(principal: &Principal, hash: &str) -> String {
    let workspace = &principal.workspace_id;
    sha256_hex(&format!("{}:{workspace}:{hash}", workspace.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifests_must_name_each_body_by_its_hash() {
        let manifest = |id: &str| {
            serde_json::json!({
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [{ "id": id, "name": "T", "type": "query", "body": "{ __typename }" }],
            })
            .to_string()
        };
        let roles = BTreeSet::from([Role::ReleaseApprover]);
        let list = AllowList::from_manifest(
            manifest(&sha256_hex("{ __typename }")).as_bytes(),
            roles.clone(),
        )
        .unwrap();
        assert_eq!(list.documents.len(), 1);
        assert!(
            AllowList::from_manifest(manifest(&"0".repeat(64)).as_bytes(), roles.clone()).is_err()
        );
        assert!(AllowList::from_manifest(b"{\"operations\":[]}", roles).is_err());
    }

    #[test]
    fn the_list_binds_principals_with_only_partner_roles() {
        let list = AllowList {
            documents: HashMap::new(),
            roles: BTreeSet::from([Role::ReleaseApprover]),
        };
        let principal = |roles: &[Role]| Principal {
            subject: "s".into(),
            workspace_id: "w".into(),
            roles: roles.iter().copied().collect(),
        };
        assert!(list.binds(&principal(&[Role::ReleaseApprover])));
        assert!(!list.binds(&principal(&[Role::ReleaseApprover, Role::WorkspaceAdmin])));
        assert!(!list.binds(&principal(&[Role::Developer])));
    }
}
