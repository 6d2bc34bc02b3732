//! The checks a document passes once parsed, before it runs: how deeply its
//! fragments nest and how many fields they expand to, how many directives a
//! field has, how many aliases it has, and which operation it runs. The HTTP handler makes them on the
//! document it parses anyway, and hands the parsed document to the
//! executor. They are not schema extensions on purpose: with any extension,
//! async-graphql takes its slow path for every field of every answer (a
//! registry lookup and a boxed future per extension), which was most of the
//! list page's CPU.

use std::collections::HashMap;

use async_graphql::ServerError;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
};
use async_graphql::parser::{Pos, Positioned, parse_query};

use super::schema_description::SchemaDescriptions;

/// What a document may hold; see `config::ApiSettings`.
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    /// How deeply fields may nest, outside introspection.
    pub depth: usize,
    /// How deeply fields may nest under `__schema` and `__type`, counted
    /// apart from `depth`; `None` when introspection is off, and they count
    /// as any field.
    pub introspection_depth: Option<usize>,
    pub aliases: usize,
    pub directives: usize,
    /// How deeply selections may nest, fragments expanded.
    pub recursion: usize,
    /// How many fields a document may hold, fragments expanded: what passes
    /// is small enough for validation, which expands fragments at every use,
    /// to stay cheap.
    pub fields: usize,
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
    /// Where its answer is to hold the service's description.
    pub schema_descriptions: SchemaDescriptions,
}

pub fn check(
    query: &str,
    operation_name: Option<&str>,
    limits: &DocumentLimits,
) -> Result<Checked, Refused> {
    let document = parse_query(query).map_err(|error| Refused::Parse(error.into()))?;
    let mut expander = Expander {
        document: &document,
        limits,
        fragments: HashMap::with_capacity(document.fragments.len()),
    };
    for (_, operation) in document.operations.iter() {
        let expansion = expander.selection_set(&operation.node.selection_set, 0)?;
        if expansion.field_depth > limits.depth {
            return Err(Refused::Validation(ServerError::new(
                format!(
                    "Query is nested too deep: fields nest at most {} levels",
                    limits.depth
                ),
                Some(operation.pos),
            )));
        }
        if let Some(limit) = limits.introspection_depth
            && expansion.introspection_depth > limit
        {
            return Err(Refused::Validation(ServerError::new(
                format!(
                    "Query is nested too deep: fields under __schema and __type nest at most {limit} levels"
                ),
                Some(operation.pos),
            )));
        }
    }
    // Validation expands unused fragments too.
    for (name, fragment) in &document.fragments {
        if !expander.fragments.contains_key(name.as_str()) {
            expander.fragment(name.as_str(), 0, fragment.pos)?;
        }
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
        (DocumentOperations::Single(operation), None) => Some(operation),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(operations), Some(name)) => operations.get(name),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next()
        }
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
    let schema_descriptions =
        SchemaDescriptions::find(&document, &operation.node.selection_set.node);
    let operation = operation.node.ty;
    Ok(Checked {
        document,
        operation,
        schema_descriptions,
    })
}

/// What a selection set grows to with its fragments expanded: how deeply it
/// nests (fields with selections and fragments each add a level), how many
/// fields it holds, how deeply its fields nest outside introspection, and
/// how deeply they nest under `__schema` and `__type` (those fields
/// included).
#[derive(Debug, Clone, Copy, Default)]
struct Expansion {
    depth: usize,
    fields: usize,
    field_depth: usize,
    introspection_depth: usize,
}

enum Fragment {
    /// Being expanded: reaching it again is a cycle.
    Expanding,
    Expanded(Expansion),
}

/// Sizes a document with its fragments expanded, each fragment once, so that
/// the work is linear in the text however often fragments spread each other
/// (four spreads a level over fifteen levels expand to a billion fields).
/// The expansion stops at the first limit it passes.
struct Expander<'a> {
    document: &'a ExecutableDocument,
    limits: &'a DocumentLimits,
    fragments: HashMap<&'a str, Fragment>,
}

impl<'a> Expander<'a> {
    /// Expands `selection_set`, found `depth` levels deep in an operation.
    fn selection_set(
        &mut self,
        selection_set: &'a Positioned<SelectionSet>,
        depth: usize,
    ) -> Result<Expansion, Refused> {
        if depth > self.limits.recursion {
            return Err(self.too_deep(selection_set.pos));
        }
        let mut expansion = Expansion::default();
        for selection in &selection_set.node.items {
            let (child, pos) = match &selection.node {
                Selection::Field(field) => {
                    if field.node.directives.len() > self.limits.directives {
                        return Err(Refused::Parse(ServerError::new(
                            format!(
                                "The number of directives on the field `{}` cannot be greater than `{}`",
                                field.node.name.node, self.limits.directives
                            ),
                            Some(field.pos),
                        )));
                    }
                    expansion.fields = expansion.fields.saturating_add(1);
                    let child = if field.node.selection_set.node.items.is_empty() {
                        Expansion::default()
                    } else {
                        lift(self.selection_set(&field.node.selection_set, depth + 1)?)
                    };
                    (
                        self.field_level(field.node.name.node.as_str(), child),
                        field.pos,
                    )
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    (
                        lift(self.fragment(name, depth + 1, spread.pos)?),
                        spread.pos,
                    )
                }
                Selection::InlineFragment(fragment) => {
                    let child = self.selection_set(&fragment.node.selection_set, depth + 1)?;
                    (lift(child), fragment.pos)
                }
            };
            expansion.depth = expansion.depth.max(child.depth);
            expansion.field_depth = expansion.field_depth.max(child.field_depth);
            expansion.introspection_depth =
                expansion.introspection_depth.max(child.introspection_depth);
            expansion.fields = expansion.fields.saturating_add(child.fields);
            if expansion.fields > self.limits.fields {
                return Err(Refused::Validation(ServerError::new(
                    format!(
                        "Query is too complex: with its fragments expanded it has more than {} fields",
                        self.limits.fields
                    ),
                    Some(pos),
                )));
            }
        }
        Ok(expansion)
    }

    /// Expands the fragment `name` where it is spread, `depth` levels deep;
    /// an unknown fragment is left to validation.
    fn fragment(&mut self, name: &'a str, depth: usize, pos: Pos) -> Result<Expansion, Refused> {
        let expansion = match self.fragments.get(name) {
            Some(Fragment::Expanded(expansion)) => *expansion,
            Some(Fragment::Expanding) => return Err(self.too_deep(pos)),
            None => {
                let Some(fragment) = self.document.fragments.get(name) else {
                    return Ok(Expansion::default());
                };
                self.fragments.insert(name, Fragment::Expanding);
                let expansion = self.selection_set(&fragment.node.selection_set, depth)?;
                self.fragments.insert(name, Fragment::Expanded(expansion));
                expansion
            }
        };
        if depth + expansion.depth > self.limits.recursion {
            return Err(self.too_deep(pos));
        }
        Ok(expansion)
    }

    /// A field's own level over what its selections nest: it counts toward
    /// the introspection depth if it is `__schema` or `__type` (and
    /// introspection is on), else toward the field depth.
    fn field_level(&self, name: &str, child: Expansion) -> Expansion {
        let introspection =
            self.limits.introspection_depth.is_some() && matches!(name, "__schema" | "__type");
        if introspection {
            Expansion {
                field_depth: 1,
                introspection_depth: 1 + child.field_depth.max(child.introspection_depth),
                ..child
            }
        } else {
            Expansion {
                field_depth: 1 + child.field_depth,
                ..child
            }
        }
    }

    fn too_deep(&self, pos: Pos) -> Refused {
        Refused::Parse(ServerError::new(
            format!(
                "The recursion depth of the query cannot be greater than `{}`",
                self.limits.recursion
            ),
            Some(pos),
        ))
    }
}

/// A child's expansion as its parent counts it: one level deeper.
fn lift(child: Expansion) -> Expansion {
    Expansion {
        depth: child.depth + 1,
        ..child
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: DocumentLimits = DocumentLimits {
        depth: 12,
        introspection_depth: Some(16),
        aliases: 30,
        directives: 5,
        recursion: 8,
        fields: 100,
    };

    fn refusal(query: &str) -> Option<String> {
        refusal_within(&LIMITS, query)
    }

    fn refusal_within(limits: &DocumentLimits, query: &str) -> Option<String> {
        match check(query, None, limits) {
            Ok(_) => None,
            Err(Refused::Parse(error) | Refused::Validation(error) | Refused::Request(error)) => {
                Some(error.message)
            }
        }
    }

    /// `levels` fragments, each spreading the next `width` times.
    fn fan_out(levels: usize, width: usize, unused: bool) -> String {
        let mut document = if unused {
            "{ __typename } ".to_owned()
        } else {
            "{ ...L0 } ".to_owned()
        };
        for level in 0..levels {
            let spreads = format!("...L{} ", level + 1).repeat(width);
            document.push_str(&format!("fragment L{level} on Query {{ {spreads}}} "));
        }
        document.push_str(&format!("fragment L{levels} on Query {{ __typename }}"));
        document
    }

    #[test]
    fn fragments_are_sized_once_however_often_they_spread() {
        // 10^6 fields if expanded at each spread.
        let refused = refusal(&fan_out(6, 10, false)).unwrap();
        assert!(refused.contains("too complex"), "{refused}");
        let refused = refusal(&fan_out(6, 10, true)).unwrap();
        assert!(refused.contains("too complex"), "{refused}");
        // 4^3 = 64 fields: within the limit.
        assert_eq!(refusal(&fan_out(3, 4, false)), None);
        assert!(
            refusal(&fan_out(4, 4, false))
                .unwrap()
                .contains("more than 100 fields")
        );
    }

    #[test]
    fn a_fragment_spread_again_deeper_is_measured_where_it_lands() {
        let nest = |levels: usize| {
            (0..levels).fold("...F".to_owned(), |inner, _| format!("a {{ {inner} }}"))
        };
        let document = |second: usize| {
            format!(
                "{{ {} {} }} fragment F on Query {{ a {{ a {{ b }} }} }}",
                nest(0),
                nest(second)
            )
        };
        // F's selections reach two levels below its own, at 3 first and at
        // `second + 3` then; the limit is 8.
        assert_eq!(refusal(&document(5)), None);
        let refused = refusal(&document(6)).unwrap();
        assert!(refused.contains("recursion depth"), "{refused}");
    }

    #[test]
    fn cycles_and_unknown_fragments() {
        let refused = refusal("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }");
        assert!(refused.unwrap().contains("recursion depth"));
        let refused = refusal("{ __typename } fragment A on Query { ...A }");
        assert!(refused.unwrap().contains("recursion depth"));
        // Left to validation, which names the fragment.
        assert_eq!(refusal("{ ...Missing }"), None);
    }

    #[test]
    fn introspection_nests_apart_from_the_depth_limit_but_is_bounded() {
        let limits = DocumentLimits {
            recursion: 32,
            ..LIMITS
        };
        let nest = |levels: usize| {
            (0..levels).fold("name".to_owned(), |inner, _| {
                format!("ofType {{ {inner} }}")
            })
        };
        // 12 levels of fields: within GRAPHQL_MAX_DEPTH, 13 not.
        assert_eq!(
            refusal_within(&limits, &format!("{{ {} }}", nest(11))),
            None
        );
        let refused = refusal_within(&limits, &format!("{{ {} }}", nest(12))).unwrap();
        assert!(refused.contains("at most 12 levels"), "{refused}");
        // Under __schema, through a fragment, up to 16 levels.
        let schema = |levels: usize| {
            format!(
                "{{ __schema {{ types {{ ...T }} }} }} fragment T on __Type {{ {} }}",
                nest(levels)
            )
        };
        assert_eq!(refusal_within(&limits, &schema(13)), None);
        let refused = refusal_within(&limits, &schema(14)).unwrap();
        assert!(
            refused.contains("__schema and __type nest at most 16"),
            "{refused}"
        );
        // With introspection off, it counts as any field.
        let off = DocumentLimits {
            introspection_depth: None,
            ..limits
        };
        assert!(check(&schema(13), None, &off).is_err());
        assert!(check(&schema(9), None, &off).is_ok());
    }

    #[test]
    fn directives_are_counted_in_fragments_too() {
        let directives = "@include(if: true) ".repeat(6);
        let refused = refusal(&format!(
            "{{ ...A }} fragment A on Query {{ a {directives} }}"
        ));
        assert!(refused.unwrap().contains("number of directives"));
    }
}
