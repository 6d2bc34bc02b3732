//! A listed page of programs with what it shows under each of them (its
//! first versions, how many it has, how many programs the whole list has),
//! read in one statement, as PostGraphile reads such a page: each program's
//! versions come as an array built by a correlated subquery off the
//! (program, major, minor, patch) index, and only the columns a listed
//! version shows are read.
//!
//! The statement is a query type of its own: its SQL varies with the
//! filters and lists asked for, so its prepared statement is cached by its
//! text (a handful per connection), and every value is a bind parameter,
//! limits included, which keeps one generic plan per text.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Record, Text, Untyped};
use diesel::sqlite::Sqlite;
use diesel_async::RunQueryDsl;

use super::mini_programs::{ProgramKey, contains_pattern};
use super::rows::{MiniProgramRow, parse};
use super::{Conn, StorageError};
use crate::domain::{
    MiniProgram, ProgramFilter, UpdateMode, VersionNumber, VersionStatus, VersionSummary,
};

/// One list of versions shown under every program of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionList {
    /// Empty means every status.
    pub statuses: Vec<VersionStatus>,
    pub per_program: i64,
    /// Whether the page shows how many versions in `statuses` each program has.
    pub counted: bool,
}

/// Which page of which programs, and what it shows under them.
pub struct PageQuery<'a> {
    pub workspace_id: &'a str,
    /// Only the program with this id: one program's page.
    pub id: Option<&'a str>,
    pub filter: &'a ProgramFilter,
    pub after: Option<&'a ProgramKey>,
    pub limit: i64,
    /// Whether the page shows how many programs pass the filter.
    pub total: bool,
    pub lists: &'a [VersionList],
}

/// A listed program with its lists, in the order of `PageQuery::lists`.
#[derive(Debug)]
pub struct ListedProgram {
    pub program: MiniProgram,
    pub versions: Vec<Vec<VersionSummary>>,
    /// Per list: how many versions it has in all, when it is counted.
    pub counts: Vec<Option<i64>>,
}

#[derive(Debug)]
pub struct ProgramPage {
    pub programs: Vec<ListedProgram>,
    /// How many programs pass the filter, when asked for. `None` too when
    /// the page is empty after a cursor, which leaves nothing to count on.
    pub total: Option<i64>,
}

pub async fn read(conn: &mut Conn<'_>, query: PageQuery<'_>) -> Result<ProgramPage, StorageError> {
    let rows: Vec<ListedRow> = match conn {
        Conn::Postgres(conn) => {
            let statement = PageStatement(Writer::build(&query, Dialect::Postgres));
            let rows: Vec<PgRow> = statement.load(conn).await?;
            rows.into_iter().map(ListedRow::from).collect()
        }
        Conn::Sqlite(conn) => {
            let statement = PageStatement(Writer::build(&query, Dialect::Sqlite));
            let rows: Vec<SqliteRow> = statement.load(conn).await?;
            rows.into_iter()
                .map(ListedRow::try_from)
                .collect::<Result<_, _>>()?
        }
    };
    let total = match <[ListedRow]>::first(&rows) {
        Some(row) => row.total,
        None if query.total && query.after.is_none() => Some(0),
        None => None,
    };
    let programs = rows
        .into_iter()
        .map(|row| row.listed(query.lists))
        .collect::<Result<_, _>>()?;
    Ok(ProgramPage { programs, total })
}

/// A bind parameter of the statement, in the order its SQL names them.
#[derive(Debug, Clone)]
enum Bind {
    Text(String),
    Int(i64),
    /// A list of statuses: an array on PostgreSQL, a JSON array on SQLite.
    Statuses(Vec<&'static str>, String),
}

/// The statement's SQL, as pieces between bind parameters.
#[derive(Debug, Clone)]
enum Piece {
    Sql(String),
    Bind(Bind),
}

/// The statement for the connection's backend, written for it alone.
#[derive(Debug, Clone)]
struct PageStatement(Vec<Piece>);

/// The program columns, as `MiniProgramRow` reads them by name.
const PROGRAM_COLUMNS: &str = "p.id, p.workspace_id, p.name, p.search_name, p.program_type, \
     p.channel, p.update_mode, p.revision, p.created_at, p.updated_at, p.async_update_seconds, \
     p.sync_update_seconds, p.policy_revision, p.minimum_version";

const NEWEST_FIRST: &str = "v.major DESC, v.minor DESC, v.patch DESC";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Postgres,
    Sqlite,
}

/// Writes the statement for one backend.
struct Writer {
    dialect: Dialect,
    pieces: Vec<Piece>,
}

impl Writer {
    fn build(query: &PageQuery<'_>, dialect: Dialect) -> Vec<Piece> {
        let mut w = Writer {
            dialect,
            pieces: Vec::new(),
        };
        w.sql(&format!("SELECT {PROGRAM_COLUMNS}, "));
        w.versions(query.lists);
        w.sql(" AS versions, ");
        w.counts(query.lists);
        w.sql(" AS version_counts, ");
        if query.total {
            w.sql("(SELECT count(*) FROM mini_programs p WHERE ");
            w.filter(query);
            w.sql(")");
        } else {
            w.sql("CAST(NULL AS BIGINT)");
        }
        w.sql(" AS total FROM mini_programs p WHERE ");
        w.filter(query);
        if let Some(after) = query.after {
            w.sql(" AND (p.search_name > ");
            w.bind(Bind::Text(after.name.clone()));
            w.sql(" OR (p.search_name = ");
            w.bind(Bind::Text(after.name.clone()));
            w.sql(" AND p.id > ");
            w.bind(Bind::Text(after.id.clone()));
            w.sql("))");
        }
        w.sql(" ORDER BY p.search_name ASC, p.id ASC LIMIT ");
        w.bind(Bind::Int(query.limit));
        w.pieces
    }

    fn sql(&mut self, sql: &str) {
        match self.pieces.last_mut() {
            Some(Piece::Sql(text)) => text.push_str(sql),
            _ => self.pieces.push(Piece::Sql(sql.to_owned())),
        }
    }

    fn bind(&mut self, bind: Bind) {
        self.pieces.push(Piece::Bind(bind));
    }

    /// The programs of the workspace that pass the filter, as `p`.
    fn filter(&mut self, query: &PageQuery<'_>) {
        self.sql("p.workspace_id = ");
        self.bind(Bind::Text(query.workspace_id.to_owned()));
        if let Some(id) = query.id {
            self.sql(" AND p.id = ");
            self.bind(Bind::Text(id.to_owned()));
        }
        let filter = query.filter;
        let equal = [
            ("program_type", filter.program_type.map(|t| t.as_str())),
            ("channel", filter.channel.map(|c| c.as_str())),
            ("update_mode", filter.update_mode.map(|m| m.as_str())),
        ];
        for (column, value) in equal {
            if let Some(value) = value {
                self.sql(&format!(" AND p.{column} = "));
                self.bind(Bind::Text(value.to_owned()));
            }
        }
        if let Some(text) = &filter.name_contains {
            self.sql(" AND p.search_name LIKE ");
            self.bind(Bind::Text(contains_pattern(text)));
            self.sql(" ESCAPE '\\'");
        }
    }

    /// The versions of `p` in `list`'s statuses, as `v`.
    fn list_filter(&mut self, list: &VersionList) {
        self.sql("v.mini_program_id = p.id");
        if !list.statuses.is_empty() {
            let statuses: Vec<&'static str> = list.statuses.iter().map(|s| s.as_str()).collect();
            let json = serde_json::to_string(&statuses).unwrap_or_default();
            match self.dialect {
                Dialect::Postgres => self.sql(" AND v.status = ANY("),
                Dialect::Sqlite => self.sql(" AND v.status IN (SELECT value FROM json_each("),
            }
            self.bind(Bind::Statuses(statuses, json));
            match self.dialect {
                Dialect::Postgres => self.sql(")"),
                Dialect::Sqlite => self.sql("))"),
            }
        }
    }

    /// Every list's versions of `p`: on PostgreSQL one array of records
    /// `(list, id, major, minor, patch, status, update_mode)`, on SQLite a
    /// JSON array of lists of `[id, major, minor, patch, status, update_mode]`.
    fn versions(&mut self, lists: &[VersionList]) {
        if lists.is_empty() {
            match self.dialect {
                Dialect::Postgres => self.sql("ARRAY[]::record[]"),
                Dialect::Sqlite => self.sql("'[]'"),
            }
            return;
        }
        if self.dialect == Dialect::Sqlite {
            self.sql("json_array(");
        }
        for (index, list) in lists.iter().enumerate() {
            match (self.dialect, index) {
                (Dialect::Postgres, 0) | (Dialect::Sqlite, 0) => {}
                (Dialect::Postgres, _) => self.sql(" || "),
                (Dialect::Sqlite, _) => self.sql(", "),
            }
            match self.dialect {
                Dialect::Postgres => self.sql(&format!(
                    "ARRAY(SELECT ROW({index}, v.id, v.major, v.minor, v.patch, v.status, \
                     v.update_mode) FROM mini_program_versions v WHERE "
                )),
                // A subquery in FROM cannot see `p`: the newest ids are
                // found in WHERE, then aggregated in order.
                Dialect::Sqlite => self.sql(
                    "json((SELECT json_group_array(json_array(s.id, s.major, s.minor, s.patch, \
                     s.status, s.update_mode) ORDER BY s.major DESC, s.minor DESC, s.patch DESC) \
                     FROM mini_program_versions s WHERE s.id IN (SELECT v.id FROM \
                     mini_program_versions v WHERE ",
                ),
            }
            self.list_filter(list);
            self.sql(&format!(" ORDER BY {NEWEST_FIRST} LIMIT "));
            self.bind(Bind::Int(list.per_program));
            match self.dialect {
                Dialect::Postgres => self.sql(")"),
                Dialect::Sqlite => self.sql(")))"),
            }
        }
        if self.dialect == Dialect::Sqlite {
            self.sql(")");
        }
    }

    /// How many versions `p` has in each counted list, in list order.
    fn counts(&mut self, lists: &[VersionList]) {
        match self.dialect {
            Dialect::Postgres => self.sql("ARRAY["),
            Dialect::Sqlite => self.sql("json_array("),
        }
        let counted = lists.iter().filter(|list| list.counted);
        for (index, list) in counted.enumerate() {
            if index > 0 {
                self.sql(", ");
            }
            self.sql("(SELECT count(*) FROM mini_program_versions v WHERE ");
            self.list_filter(list);
            self.sql(")");
        }
        match self.dialect {
            Dialect::Postgres => self.sql("]::bigint[]"),
            Dialect::Sqlite => self.sql(")"),
        }
    }
}

impl Query for PageStatement {
    type SqlType = Untyped;
}

/// Not a static query id: the text varies, so the cache keys by it.
impl QueryId for PageStatement {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for PageStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        for piece in &self.0 {
            match piece {
                Piece::Sql(sql) => out.push_sql(sql),
                Piece::Bind(Bind::Text(text)) => out.push_bind_param::<Text, _>(text)?,
                Piece::Bind(Bind::Int(int)) => out.push_bind_param::<BigInt, _>(int)?,
                Piece::Bind(Bind::Statuses(statuses, _)) => {
                    out.push_bind_param::<Array<Text>, _>(statuses)?
                }
            }
        }
        Ok(())
    }
}

impl QueryFragment<Sqlite> for PageStatement {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        for piece in &self.0 {
            match piece {
                Piece::Sql(sql) => out.push_sql(sql),
                Piece::Bind(Bind::Text(text)) => out.push_bind_param::<Text, _>(text)?,
                Piece::Bind(Bind::Int(int)) => out.push_bind_param::<BigInt, _>(int)?,
                Piece::Bind(Bind::Statuses(_, json)) => out.push_bind_param::<Text, _>(json)?,
            }
        }
        Ok(())
    }
}

/// A listed version as the statement returns it: list, id, major, minor,
/// patch, status, update mode.
type VersionColumns = (i32, String, i32, i32, i32, String, Option<String>);

#[derive(QueryableByName)]
struct PgRow {
    #[diesel(embed)]
    program: MiniProgramRow,
    #[diesel(sql_type = Array<Record<(Integer, Text, Integer, Integer, Integer, Text, Nullable<Text>)>>)]
    versions: Vec<VersionColumns>,
    #[diesel(sql_type = Array<BigInt>)]
    version_counts: Vec<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    total: Option<i64>,
}

#[derive(QueryableByName)]
struct SqliteRow {
    #[diesel(embed)]
    program: MiniProgramRow,
    #[diesel(sql_type = Text)]
    versions: String,
    #[diesel(sql_type = Text)]
    version_counts: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    total: Option<i64>,
}

/// A row of either backend, read the same way.
struct ListedRow {
    program: MiniProgramRow,
    versions: Vec<VersionColumns>,
    version_counts: Vec<i64>,
    total: Option<i64>,
}

impl From<PgRow> for ListedRow {
    fn from(row: PgRow) -> Self {
        Self {
            program: row.program,
            versions: row.versions,
            version_counts: row.version_counts,
            total: row.total,
        }
    }
}

impl TryFrom<SqliteRow> for ListedRow {
    type Error = StorageError;

    fn try_from(row: SqliteRow) -> Result<Self, StorageError> {
        type SqliteVersion = (String, i32, i32, i32, String, Option<String>);
        let lists: Vec<Vec<SqliteVersion>> = read_json("listed versions", &row.versions)?;
        let versions = lists
            .into_iter()
            .zip(0..)
            .flat_map(|(list, index)| {
                list.into_iter()
                    .map(move |(id, major, minor, patch, status, mode)| {
                        (index, id, major, minor, patch, status, mode)
                    })
            })
            .collect();
        Ok(Self {
            program: row.program,
            versions,
            version_counts: read_json("version counts", &row.version_counts)?,
            total: row.total,
        })
    }
}

fn read_json<T: serde::de::DeserializeOwned>(
    what: &'static str,
    json: &str,
) -> Result<T, StorageError> {
    serde_json::from_str(json).map_err(|_| StorageError::Corrupt {
        what,
        value: json.to_owned(),
    })
}

impl ListedRow {
    fn listed(self, lists: &[VersionList]) -> Result<ListedProgram, StorageError> {
        let program = MiniProgram::try_from(self.program)?;
        let mut versions = vec![Vec::new(); lists.len()];
        for (index, id, major, minor, patch, status, mode) in self.versions {
            let list = usize::try_from(index)
                .ok()
                .and_then(|index| versions.get_mut(index))
                .ok_or_else(|| StorageError::Corrupt {
                    what: "listed version's list",
                    value: index.to_string(),
                })?;
            list.push(VersionSummary {
                id,
                mini_program_id: program.id.clone(),
                number: VersionNumber {
                    major,
                    minor,
                    patch,
                },
                status: parse("version status", &status, VersionStatus::from_name)?,
                fixed_update_mode: mode
                    .as_deref()
                    .map(|mode| parse("update mode", mode, UpdateMode::from_name))
                    .transpose()?,
                program_update_mode: program.update_mode,
            });
        }
        let mut counted = self.version_counts.into_iter();
        let counts = lists
            .iter()
            .map(|list| if list.counted { counted.next() } else { None })
            .collect();
        Ok(ListedProgram {
            program,
            versions,
            counts,
        })
    }
}
