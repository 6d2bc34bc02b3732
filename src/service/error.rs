use crate::db::StorageError;
use crate::domain::RuleViolation;

/// Why a use case did not give its result. The GraphQL layer maps each
/// variant to one `extensions.code`.
///
/// It deliberately has no `Display`: async-graphql converts anything
/// displayable into a code-less error, and without it `?` can only go
/// through our one mapping.
#[derive(Debug)]
pub enum ServiceError {
    Forbidden(&'static str),
    NotFound(&'static str),
    Rule(RuleViolation),
    Unavailable(StorageError),
    Internal(StorageError),
    /// A live subscription's feed lost events it cannot name: the
    /// subscriber re-reads what it shows and subscribes again.
    Interrupted,
}

impl From<RuleViolation> for ServiceError {
    fn from(violation: RuleViolation) -> Self {
        ServiceError::Rule(violation)
    }
}

impl ServiceError {
    /// A unique violation on a name's key is the name taken; anything else
    /// stays a storage error. For the repository call that writes `name`.
    pub fn name_taken(kind: &'static str, name: &str) -> impl FnOnce(StorageError) -> Self {
        move |error| {
            if error.is_unique_violation() {
                Self::Rule(RuleViolation::NameTaken {
                    kind,
                    name: name.to_owned(),
                })
            } else {
                error.into()
            }
        }
    }
}

impl From<StorageError> for ServiceError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unavailable(_) => ServiceError::Unavailable(error),
            other => ServiceError::Internal(other),
        }
    }
}
