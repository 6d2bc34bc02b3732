//! The checks a document passes once parsed, before it runs: how deeply its
//! fragments nest, how many directives a field has, how many aliases it
//! has, and which operation it runs. The HTTP handler makes them on the
//! document it parses anyway, and hands the parsed document to the
//! executor. They are not schema extensions on purpose: with any extension,
//! async-graphql takes its slow path for every field of every answer (a
//! registry lookup and a boxed future per extension), which was most of the
//! list page's CPU.

use async_graphql::ServerError;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::parser::{Positioned, parse_query};

/// What a document may hold; see `config::ApiSettings`.
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    pub aliases: usize,
    pub directives: usize,
    /// How deeply selections may nest, fragments expanded.
    pub recursion: usize,
}

/// Why a document is refused before it runs, by the code it is answered with.
pub enum Refused {
    /// `GRAPHQL_PARSE_FAILED`
    Parse(ServerError),
    /// `GRAPHQL_VALIDATION_FAILED`
    Validation(ServerError),
    /// `BAD_REQUEST`: no operation, or not the one named.
    Request(ServerError),
}

/// A document that passed, and the kind of operation it runs.
pub struct Checked {
    pub document: ExecutableDocument,
    pub operation: OperationType,
}

pub fn check(
    query: &str,
    operation_name: Option<&str>,
    limits: &DocumentLimits,
) -> Result<Checked, Refused> {
    let document = parse_query(query).map_err(|error| Refused::Parse(error.into()))?;
    for (_, operation) in document.operations.iter() {
        walk(&document, &operation.node.selection_set, 0, limits)?;
    }
    let aliases: usize = document
        .operations
        .iter()
        .map(|(_, operation)| count_aliases(&operation.node.selection_set.node))
        .chain(
            document
                .fragments
                .values()
                .map(|fragment| count_aliases(&fragment.node.selection_set.node)),
        )
        .sum();
    if aliases > limits.aliases {
        return Err(Refused::Validation(ServerError::new(
            format!(
                "the document has {aliases} aliases; at most {} are allowed",
                limits.aliases
            ),
            None,
        )));
    }
    // Picked as the executor picks it: a name must name an operation.
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), None) => Some(operation.node.ty),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| operation.node.ty)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .values()
            .next()
            .map(|operation| operation.node.ty),
        (DocumentOperations::Multiple(_), None) => {
            return Err(Refused::Request(ServerError::new(
                "Operation name required in request.",
                None,
            )));
        }
    };
    let Some(operation) = operation else {
        return Err(Refused::Request(ServerError::new(
            format!(
                r#"Unknown operation named "{}""#,
                operation_name.unwrap_or_default()
            ),
            None,
        )));
    };
    Ok(Checked {
        document,
        operation,
    })
}

/// Bounds nesting (fragments expanded, so a fragment spreading itself ends
/// here) and the directives on each field.
fn walk(
    document: &ExecutableDocument,
    selection_set: &Positioned<SelectionSet>,
    depth: usize,
    limits: &DocumentLimits,
) -> Result<(), Refused> {
    if depth > limits.recursion {
        return Err(Refused::Parse(ServerError::new(
            format!(
                "The recursion depth of the query cannot be greater than `{}`",
                limits.recursion
            ),
            Some(selection_set.pos),
        )));
    }
    for selection in &selection_set.node.items {
        match &selection.node {
            Selection::Field(field) => {
                if field.node.directives.len() > limits.directives {
                    return Err(Refused::Parse(ServerError::new(
                        format!(
                            "The number of directives on the field `{}` cannot be greater than `{}`",
                            field.node.name.node, limits.directives
                        ),
                        Some(field.pos),
                    )));
                }
                if !field.node.selection_set.node.items.is_empty() {
                    walk(document, &field.node.selection_set, depth + 1, limits)?;
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    walk(document, &fragment.node.selection_set, depth + 1, limits)?;
                }
            }
            Selection::InlineFragment(fragment) => {
                walk(document, &fragment.node.selection_set, depth + 1, limits)?;
            }
        }
    }
    Ok(())
}

fn count_aliases(selection_set: &SelectionSet) -> usize {
    selection_set
        .items
        .iter()
        .map(|selection| match &selection.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}
