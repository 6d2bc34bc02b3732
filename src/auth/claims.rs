//! Where an identity provider's tokens keep the workspace and the roles, and
//! what its role names mean here. Real providers differ (Keycloak keeps roles
//! under `realm_access.roles`, Auth0 nests them in a namespaced claim such as
//! `https://example.com/claims`), so both are configurable dotted paths.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::TokenError;
use crate::domain::{Principal, Role};

#[derive(Debug, Clone)]
pub struct ClaimNames {
    /// The dotted path of the claim holding the workspace id, a string.
    pub workspace: String,
    /// The dotted path of the claim holding the roles, an array of strings.
    pub roles: String,
    /// Provider role names and the roles they grant; our own role names are
    /// understood as well.
    pub role_map: HashMap<String, Role>,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            workspace: "workspace_id".into(),
            roles: "roles".into(),
            role_map: HashMap::new(),
        }
    }
}

/// Reads `name=ROLE,name=ROLE`, e.g. `release-manager=WORKSPACE_ADMIN`.
pub fn parse_role_map(text: &str) -> Result<HashMap<String, Role>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, role) = pair
                .split_once('=')
                .ok_or_else(|| format!("JWT_ROLE_MAP: {pair:?} is not NAME=ROLE"))?;
            let role = Role::from_name(role.trim())
                .ok_or_else(|| format!("JWT_ROLE_MAP: {:?} is not a role", role.trim()))?;
            Ok((name.trim().to_owned(), role))
        })
        .collect()
}

impl ClaimNames {
    /// The principal a verified token names.
    pub(super) fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, TokenError> {
        let invalid = |message: String| TokenError::Invalid(message);
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|sub| !sub.trim().is_empty())
            .ok_or_else(|| invalid("the sub claim must be a non-empty string".into()))?;
        let workspace = lookup(claims, &self.workspace)
            .and_then(Value::as_str)
            .filter(|workspace| !workspace.trim().is_empty())
            .ok_or_else(|| {
                invalid(format!(
                    "the {} claim must be a non-empty string",
                    self.workspace
                ))
            })?;
        let roles: BTreeSet<Role> = match lookup(claims, &self.roles) {
            None | Some(Value::Null) => BTreeSet::new(),
            Some(Value::Array(names)) => names
                .iter()
                .filter_map(Value::as_str)
                .filter_map(|name| {
                    self.role_map
                        .get(name)
                        .copied()
                        .or_else(|| Role::from_name(name))
                })
                .collect(),
            Some(_) => {
                return Err(invalid(format!(
                    "the {} claim must be an array",
                    self.roles
                )));
            }
        };
        Ok(Principal {
            subject: subject.to_owned(),
            workspace_id: workspace.to_owned(),
            roles,
        })
    }

    /// Writes the workspace and roles where `principal` reads them.
    pub(super) fn insert(&self, claims: &mut Map<String, Value>, workspace: &str, roles: &[Role]) {
        insert(claims, &self.workspace, Value::from(workspace));
        let roles = roles
            .iter()
            .map(|role| Value::from(role.as_str()))
            .collect();
        insert(claims, &self.roles, Value::Array(roles));
    }
}

/// The claim at a dotted `path`. A claim name may itself hold dots (Auth0's
/// namespaced claims are URLs), so at each level the longest name that the
/// path starts with is tried first: `https://example.com/claims.tenant` is
/// `tenant` inside the claim `https://example.com/claims`.
fn lookup<'a>(object: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(value) = object.get(path) {
        return Some(value);
    }
    path.rmatch_indices('.').find_map(|(dot, _)| {
        let inner = object.get(&path[..dot])?.as_object()?;
        lookup(inner, &path[dot + 1..])
    })
}

/// Puts `value` at a dotted `path`, one object per dot, where `lookup` finds it.
fn insert(claims: &mut Map<String, Value>, path: &str, value: Value) {
    let (parents, last) = path
        .rsplit_once('.')
        .map_or((None, path), |(parents, last)| (Some(parents), last));
    let mut object = claims;
    for key in parents.into_iter().flat_map(|parents| parents.split('.')) {
        let entry = object
            .entry(key.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        let Value::Object(next) = entry else {
            return;
        };
        object = next;
    }
    object.insert(last.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn roles_are_read_at_a_dotted_path_through_the_role_map() {
        let names = ClaimNames {
            workspace: "tenant".into(),
            roles: "realm_access.roles".into(),
            role_map: parse_role_map("release-manager=WORKSPACE_ADMIN, dev = DEVELOPER").unwrap(),
        };
        let principal = names
            .principal(&claims(json!({
                "sub": "kc-user", "tenant": "acme",
                "realm_access": { "roles": ["release-manager", "VIEWER", "offline_access", 3] }
            })))
            .unwrap();
        assert_eq!(principal.workspace_id, "acme");
        assert_eq!(principal.roles, [Role::WorkspaceAdmin, Role::Viewer].into());
    }

    #[test]
    fn wrong_types_are_refused() {
        let names = ClaimNames::default();
        for bad in [
            json!({ "sub": "a", "workspace_id": 42 }),
            json!({ "sub": "a" }),
            json!({ "sub": "", "workspace_id": "w" }),
            json!({ "sub": 7, "workspace_id": "w" }),
            json!({ "sub": "a", "workspace_id": "w", "roles": "VIEWER" }),
        ] {
            assert!(names.principal(&claims(bad.clone())).is_err(), "{bad}");
        }
        let none = names
            .principal(&claims(json!({ "sub": "a", "workspace_id": "w" })))
            .unwrap();
        assert!(none.roles.is_empty());
    }

    #[test]
    fn the_workspace_is_read_at_a_dotted_path_too() {
        let names = ClaimNames {
            workspace: "https://example.com/claims.tenant".into(),
            roles: "https://example.com/claims.roles".into(),
            role_map: HashMap::new(),
        };
        let principal = names
            .principal(&claims(json!({
                "sub": "auth0|7",
                "https://example.com/claims": { "tenant": "acme", "roles": ["VIEWER"] }
            })))
            .unwrap();
        assert_eq!(principal.workspace_id, "acme");
        assert_eq!(principal.roles, [Role::Viewer].into());
        let missing = names.principal(&claims(json!({
            "sub": "auth0|7", "https://example.com/claims": { "roles": ["VIEWER"] }
        })));
        assert_eq!(
            missing.unwrap_err(),
            TokenError::Invalid(
                "the https://example.com/claims.tenant claim must be a non-empty string".into()
            )
        );
    }

    #[test]
    fn a_path_prefers_the_longest_claim_name_and_falls_back_to_nesting() {
        let value = json!({
            "a.b": { "c": 1 },
            "a": { "b": { "c": 2, "d": 3 }, "b.c": 4 },
            "x.y": 5,
            "s": "not an object",
        });
        let object = claims(value);
        assert_eq!(lookup(&object, "a.b.c"), Some(&json!(1)));
        assert_eq!(
            lookup(&object, "a.b.d"),
            Some(&json!(3)),
            "a.b has no d: a, then b"
        );
        assert_eq!(lookup(&object, "x.y"), Some(&json!(5)));
        assert_eq!(lookup(&object, "s.t"), None);
        assert_eq!(lookup(&object, "a.e"), None);
        assert_eq!(lookup(&object, "nothing"), None);
    }

    #[test]
    fn minted_claims_are_where_they_are_read_at_any_path() {
        for (workspace, roles) in [
            ("workspace_id", "roles"),
            ("tenant", "realm_access.roles"),
            (
                "https://example.com/claims.tenant",
                "https://example.com/claims.roles",
            ),
        ] {
            let names = ClaimNames {
                workspace: workspace.into(),
                roles: roles.into(),
                role_map: HashMap::new(),
            };
            let mut minted = claims(json!({ "sub": "ops" }));
            names.insert(&mut minted, "acme", &[Role::Developer]);
            let principal = names.principal(&minted).unwrap();
            assert_eq!(principal.workspace_id, "acme", "{workspace}");
            assert_eq!(principal.roles, [Role::Developer].into(), "{roles}");
        }
    }

    #[test]
    fn bad_role_maps_are_refused() {
        assert!(parse_role_map("admin").is_err());
        assert!(parse_role_map("admin=ROOT").is_err());
        assert!(parse_role_map("").unwrap().is_empty());
    }
}
