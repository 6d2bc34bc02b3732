//! `__schema { description }`: async-graphql 7.2 answers it with a fixed
//! text about what a GraphQL schema is, and has no setting for it. Where a
//! document asks for it is found once the document is parsed, and the answer
//! gets the service's own description there instead.

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Name, Response, Value};

/// What the service is, as its package says.
pub const DESCRIPTION: &str = env!("CARGO_PKG_DESCRIPTION");

/// Where an answer holds `__schema.description`: the response key of each
/// `__schema` field of the operation's root, with the keys of the
/// `description` fields selected in it. Empty for almost every document.
#[derive(Debug, Default)]
pub struct SchemaDescriptions(Vec<(Name, Vec<Name>)>);

impl SchemaDescriptions {
    /// Finds them in the root selection of an operation of `document`, whose
    /// fragments are known to spread no cycle.
    pub fn find(document: &ExecutableDocument, root: &SelectionSet) -> Self {
        let mut found = Vec::new();
        each_field(document, root, &mut |name, key, field| {
            if name == "__schema" {
                let mut descriptions = Vec::new();
                each_field(document, field, &mut |name, key, _| {
                    if name == "description" {
                        descriptions.push(key.clone());
                    }
                });
                found.push((key.clone(), descriptions));
            }
        });
        SchemaDescriptions(found)
    }

    /// Puts the service's description where the answer holds the schema's.
    pub fn fill(&self, response: &mut Response) {
        let Value::Object(data) = &mut response.data else {
            return;
        };
        for (schema_key, descriptions) in &self.0 {
            if let Some(Value::Object(schema)) = data.get_mut(schema_key) {
                for key in descriptions {
                    if let Some(description) = schema.get_mut(key) {
                        *description = Value::String(DESCRIPTION.to_owned());
                    }
                }
            }
        }
    }
}

/// Calls `visit` with the name, response key and selections of each field of
/// `selection_set`, fragments spread in place.
fn each_field<'a>(
    document: &'a ExecutableDocument,
    selection_set: &'a SelectionSet,
    visit: &mut impl FnMut(&str, &'a Name, &'a SelectionSet),
) {
    for selection in &selection_set.items {
        match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                let key = field.alias.as_ref().unwrap_or(&field.name);
                visit(
                    field.name.node.as_str(),
                    &key.node,
                    &field.selection_set.node,
                );
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    each_field(document, &fragment.node.selection_set.node, visit);
                }
            }
            Selection::InlineFragment(fragment) => {
                each_field(document, &fragment.node.selection_set.node, visit);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;
    use async_graphql::parser::types::DocumentOperations;

    use super::*;

    fn filled(query: &str, data: serde_json::Value) -> serde_json::Value {
        let document = parse_query(query).unwrap();
        let DocumentOperations::Single(operation) = &document.operations else {
            panic!("one operation");
        };
        let found = SchemaDescriptions::find(&document, &operation.node.selection_set.node);
        let mut response = Response::new(Value::from_json(data).unwrap());
        found.fill(&mut response);
        response.data.into_json().unwrap()
    }

    #[test]
    fn the_description_is_found_under_aliases_and_fragments() {
        let builtin = serde_json::json!("A GraphQL Schema defines the capabilities…");
        let data = serde_json::json!({
            "s": { "d": builtin, "description": builtin },
            "__schema": { "description": builtin },
            "other": { "description": "kept" },
        });
        let query = "{ s: __schema { d: description ...D } ...R other: viewer { description } }
            fragment D on __Schema { description }
            fragment R on Query { ... on Query { __schema { description } } }";
        assert_eq!(
            filled(query, data),
            serde_json::json!({
                "s": { "d": DESCRIPTION, "description": DESCRIPTION },
                "__schema": { "description": DESCRIPTION },
                "other": { "description": "kept" },
            })
        );
    }

    #[test]
    fn answers_without_the_schema_are_left_alone() {
        let data = serde_json::json!({ "viewer": { "description": "x" } });
        assert_eq!(filled("{ viewer { description } }", data.clone()), data);
        let null = serde_json::json!(null);
        assert_eq!(filled("{ __schema { description } }", null.clone()), null);
    }
}
