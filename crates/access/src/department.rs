//! Departments (診療科・部門) and job types (職種): code lists the system administrator keeps.
//! Accounts and applications name them by code; a retired code stays readable in every past
//! record (master data never changes the past) but can no longer be chosen.

use crate::error::{check_code, check_name, AccessError};
use crate::role::{Role, Roles};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{Actor, Draft, EntryKind, EntryMeta, Invalid, Projection, Request};
use serde::{Deserialize, Serialize};

/// The longest name of a department or job type, in characters.
pub const NAME_CHARS_MAX: usize = 64;
/// Most departments or job types a list shows (and the hospital may define).
pub const CODES_MAX: u64 = 500;

/// The departments, by code.
pub static DEPARTMENTS: TableSpec = TableSpec {
    name: "access_departments",
    about: "Departments (診療科・部門) by code, with their names and whether they are in use.",
    columns: &[
        Column::text("code"),
        Column::text("name_ja"),
        Column::text("name_en"),
        Column::text("state"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// The job types, by code.
pub static JOB_TYPES: TableSpec = TableSpec {
    name: "access_job_types",
    about: "Job types (職種) by code, with their names and whether they are in use; policies restrict use by job type (Art. 11).",
    columns: &[
        Column::text("code"),
        Column::text("name_ja"),
        Column::text("name_en"),
        Column::text("state"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

/// Which code list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeList {
    /// Departments.
    Department,
    /// Job types.
    JobType,
}

impl CodeList {
    /// The table.
    pub fn table(self) -> &'static TableSpec {
        match self {
            CodeList::Department => &DEPARTMENTS,
            CodeList::JobType => &JOB_TYPES,
        }
    }

    /// The field name used in errors.
    pub fn field(self) -> &'static str {
        match self {
            CodeList::Department => "department",
            CodeList::JobType => "job_type",
        }
    }
}

/// A department or job type as defined.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    /// Its code (`internal-medicine`, `nurse`).
    pub code: String,
    /// Its Japanese name.
    pub name_ja: String,
    /// Its English name.
    pub name_en: String,
    /// In use? A retired code stays in past records.
    pub active: bool,
}

impl Code {
    /// Checks the code and names.
    pub fn check(&self) -> Result<(), AccessError> {
        check_code("code", &self.code)?;
        check_name("name_ja", &self.name_ja, NAME_CHARS_MAX)?;
        check_name("name_en", &self.name_en, NAME_CHARS_MAX)
    }

    fn row(&self) -> Vec<Value> {
        vec![
            Value::Text(self.code.clone()),
            Value::Text(self.name_ja.clone()),
            Value::Text(self.name_en.clone()),
            Value::Text(if self.active { "active" } else { "retired" }.into()),
        ]
    }

    /// The query for one code of a list.
    pub fn query(list: CodeList, code: &str) -> Query {
        Query::key(list.table(), vec![Value::Text(code.into())])
    }

    /// The query for the whole list, in code order.
    pub fn list(list: CodeList) -> Query {
        Query::table(list.table(), CODES_MAX)
    }

    /// Decodes a row of either list.
    pub fn from_row(list: CodeList, stored: &Stored) -> Result<Code, BadRow> {
        let c = stored.cells(list.table());
        Ok(Code {
            code: c.text(0)?,
            name_ja: c.text(1)?,
            name_en: c.text(2)?,
            active: c.parsed(3, |s| match s {
                "active" => Some(true),
                "retired" => Some(false),
                _ => None,
            })?,
        })
    }
}

fn invalid_static(e: AccessError) -> Invalid {
    match e {
        AccessError::Invalid { field, why } => Invalid { field, why },
        _ => Invalid {
            field: "code",
            why: "is not valid",
        },
    }
}

/// `access.department/1`: a department defined, renamed, retired or brought back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DepartmentDefined(pub Code);

impl EntryKind for DepartmentDefined {
    const KIND: &'static str = "access.department/1";
    const PROJECTION: Projection = Projection::Into(&[&DEPARTMENTS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        self.0.check().map_err(invalid_static)
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<kiroku_core::Change>) {
        out.push(kiroku_core::Change::upsert(&DEPARTMENTS, self.0.row()));
    }

    fn example() -> Self {
        DepartmentDefined(Code {
            code: "internal-medicine".into(),
            name_ja: "内科".into(),
            name_en: "Internal Medicine".into(),
            active: true,
        })
    }
}

/// `access.job_type/1`: a job type defined, renamed, retired or brought back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobTypeDefined(pub Code);

impl EntryKind for JobTypeDefined {
    const KIND: &'static str = "access.job_type/1";
    const PROJECTION: Projection = Projection::Into(&[&JOB_TYPES]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        self.0.check().map_err(invalid_static)
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<kiroku_core::Change>) {
        out.push(kiroku_core::Change::upsert(&JOB_TYPES, self.0.row()));
    }

    fn example() -> Self {
        JobTypeDefined(Code {
            code: "nurse".into(),
            name_ja: "看護師".into(),
            name_en: "Nurse".into(),
            active: true,
        })
    }
}

/// Defines (or changes) a department or job type. Only the system administrator keeps the
/// code lists; a change that changes nothing is refused.
pub fn define(
    by: &Roles,
    actor: Actor,
    list: CodeList,
    current: Option<&Code>,
    code: Code,
    today: kiroku_core::Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    code.check()?;
    if current == Some(&code) {
        return Err(AccessError::Invalid {
            field: "code",
            why: "is already defined exactly so",
        });
    }
    let draft = match list {
        CodeList::Department => Draft::new(actor, DepartmentDefined(code)),
        CodeList::JobType => Draft::new(actor, JobTypeDefined(code)),
    };
    Ok(Request::one(draft))
}

/// Checks that `code` names an active entry of a list.
pub fn require_active(list: CodeList, code: &str, found: Option<&Code>) -> Result<(), AccessError> {
    match found {
        Some(c) if c.active => Ok(()),
        _ => Err(AccessError::UnknownCode {
            what: list.field(),
            code: code.into(),
        }),
    }
}
