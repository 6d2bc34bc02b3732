use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// Why a storage operation did not give its result.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No connection could be had: the database is down or the pool exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("a stored {what} has the unexpected value {value:?}")]
    Corrupt { what: &'static str, value: String },
    #[error("migration failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(DieselError),
}

impl StorageError {
    pub(crate) fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StorageError::Query(DieselError::DatabaseError(
                DatabaseErrorKind::UniqueViolation,
                _
            ))
        )
    }
}

impl From<DieselError> for StorageError {
    fn from(error: DieselError) -> Self {
        StorageError::Query(error)
    }
}

impl From<diesel::ConnectionError> for StorageError {
    fn from(error: diesel::ConnectionError) -> Self {
        StorageError::Unavailable(error.to_string())
    }
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for StorageError {
    fn from(error: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        StorageError::Unavailable(error.to_string())
    }
}
