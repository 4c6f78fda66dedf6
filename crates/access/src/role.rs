//! Governance roles (Art. 3–8) and their appointments. The system administrator appoints every
//! role, with dates; each appointment and dismissal is an entry. Separation of duties is a rule
//! here, not advice: nobody appoints themselves, and no one audits what they administer.
//!
//! The monitoring manager (監視責任者) is appointed per department (Art. 6: the head of each
//! department); every other role is hospital-wide.

use crate::account::{history, AccountState, Status, ACCOUNT_HISTORY};
use crate::error::{check_reason, AccessError};
use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::query::{BadRow, Query, Stored};
use kiroku_core::{
    AccountId, Actor, Change, Date, Draft, EntryKind, EntryMeta, Invalid, Projection, Request,
};
use serde::{Deserialize, Serialize};

/// Most appointments one account's role list reads.
pub const ROLES_PER_ACCOUNT_MAX: u64 = 100;

/// A governance role of the regulations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// システム管理責任者 (Art. 4): the director or their appointee; approves IDs, policies,
    /// software and linkages; suspends use.
    SystemAdministrator,
    /// 運用責任者 (Art. 5): runs the system, trains users, approves department and device
    /// changes.
    OperationsManager,
    /// 監視責任者 (Art. 6): the head of a department; endorses its ID applications.
    MonitoringManager,
    /// 接続機器管理責任者 (Art. 7).
    DeviceManager,
    /// 監査責任者 (Art. 8).
    AuditManager,
    /// 監査担当者 (Art. 8(2)): reads, never changes.
    Auditor,
    /// 情報化推進委員会委員 (Art. 4(4)): certifies software.
    CommitteeMember,
}

impl Role {
    /// Every role, in the order of the regulations.
    pub const ALL: [Role; 7] = [
        Role::SystemAdministrator,
        Role::OperationsManager,
        Role::MonitoringManager,
        Role::DeviceManager,
        Role::AuditManager,
        Role::Auditor,
        Role::CommitteeMember,
    ];

    /// As stored and in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::SystemAdministrator => "system_administrator",
            Role::OperationsManager => "operations_manager",
            Role::MonitoringManager => "monitoring_manager",
            Role::DeviceManager => "device_manager",
            Role::AuditManager => "audit_manager",
            Role::Auditor => "auditor",
            Role::CommitteeMember => "committee_member",
        }
    }

    /// The role of a stored name.
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// Is the role held for one department (rather than hospital-wide)?
    pub fn per_department(self) -> bool {
        self == Role::MonitoringManager
    }

    /// Roles one person may not hold together with this one: those who audit may not
    /// administer or run what they audit.
    pub fn incompatible(self) -> &'static [Role] {
        match self {
            Role::AuditManager | Role::Auditor => {
                &[Role::SystemAdministrator, Role::OperationsManager]
            }
            Role::SystemAdministrator | Role::OperationsManager => {
                &[Role::AuditManager, Role::Auditor]
            }
            _ => &[],
        }
    }
}

/// Current appointments: one row per role, department and account.
pub static ROLE_APPOINTMENTS: TableSpec = TableSpec {
    name: "access_role_appointments",
    about: "Governance roles held (Art. 3–8): role, department (empty for hospital-wide roles), account, and the dates of the appointment.",
    columns: &[
        Column::text("role"),
        Column::text("department"),
        Column::text("account"),
        Column::text("valid_from"),
        Column::text("valid_until").nullable(),
    ],
    key: 3,
    indexes: &[&["account", "role", "department"]],
    role: TableRole::Plain,
};

/// Each account's roles as a stream: its version rises with every appointment to or dismissal
/// from a role, so that a governance step decided on the roles its actor held expects them
/// unchanged when the writer takes it, under the append lock (a dismissal that lands first
/// refuses it).
pub static ROLE_VERSIONS: TableSpec = TableSpec {
    name: "access_role_versions",
    about: "Each account's roles as a stream: its version rises with every appointment and dismissal, so that steps decided on an actor's roles expect them unchanged.",
    columns: &[Column::text("account"), Column::int("version")],
    key: 1,
    indexes: &[],
    role: TableRole::Stream { version: "version" },
};

/// `access.roles_changed/1`: `account`'s roles changed (an appointment or a dismissal in the
/// same request); its role stream is now at `version`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesChanged {
    /// The account.
    pub account: String,
    /// The role stream's new version.
    pub version: u64,
}

impl EntryKind for RolesChanged {
    const KIND: &'static str = "access.roles_changed/1";
    const PROJECTION: Projection = Projection::Into(&[&ROLE_VERSIONS]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        if self.version == 0 || i64::try_from(self.version).is_err() {
            return Err(Invalid {
                field: "version",
                why: "is out of range",
            });
        }
        Ok(())
    }

    fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(Change::upsert(
            &ROLE_VERSIONS,
            vec![
                Value::Text(self.account.clone()),
                Value::Int(self.version as i64),
            ],
        ));
    }

    fn example() -> Self {
        RolesChanged {
            account: "tanaka.ichiro".into(),
            version: 2,
        }
    }
}

/// The entry moving `account`'s role stream from `current` to the next version.
pub fn roles_changed(actor: Actor, account: &str, current: u64) -> Draft {
    Draft::new(
        actor,
        RolesChanged {
            account: account.to_owned(),
            version: current + 1,
        },
    )
}

/// `account`'s role stream.
pub fn roles_version(account: &str) -> Query {
    Query::key(&ROLE_VERSIONS, vec![Value::Text(account.into())])
}

/// The version of a row of [`ROLE_VERSIONS`].
pub fn version_of_row(stored: &Stored) -> Result<u64, BadRow> {
    stored.cells(&ROLE_VERSIONS).uint(1)
}

/// What a step decided on `account`'s roles at `version` expects of them.
pub fn roles_unchanged(account: &str, version: u64) -> kiroku_core::Expect {
    kiroku_core::Expect::Version {
        table: &ROLE_VERSIONS,
        key: vec![Value::Text(account.into())],
        version,
    }
}

/// One appointment held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The role.
    pub role: Role,
    /// The department, for a per-department role.
    pub department: Option<String>,
    /// The account.
    pub account: String,
    /// From this date.
    pub valid_from: Date,
    /// Until this date, inclusive (none: until dismissed).
    pub valid_until: Option<Date>,
}

impl Held {
    /// Is the appointment in force on `today`?
    pub fn in_force(&self, today: Date) -> bool {
        self.valid_from <= today && self.valid_until.is_none_or(|u| today <= u)
    }

    /// Decodes a row of [`ROLE_APPOINTMENTS`].
    pub fn from_row(stored: &Stored) -> Result<Held, BadRow> {
        let c = stored.cells(&ROLE_APPOINTMENTS);
        let department = c.text(1)?;
        Ok(Held {
            role: c.parsed(0, Role::parse)?,
            department: (!department.is_empty()).then_some(department),
            account: c.text(2)?,
            valid_from: c.date(3)?,
            valid_until: c.optional_date(4)?,
        })
    }

    /// The query for an account's appointments.
    pub fn of_account(account: &AccountId) -> Query {
        Query::table(&ROLE_APPOINTMENTS, ROLES_PER_ACCOUNT_MAX)
            .by_index(0)
            .matching(vec![Value::Text(account.to_string())])
    }

    /// The query for the holders of a role (of one department, for a per-department role).
    pub fn holders(role: Role, department: Option<&str>, limit: u64) -> Query {
        let mut eq = vec![Value::Text(role.as_str().into())];
        if let Some(d) = department {
            eq.push(Value::Text(d.into()));
        }
        Query::table(&ROLE_APPOINTMENTS, limit).matching(eq)
    }

    /// The query for every appointment, in role order.
    pub fn all(limit: u64) -> Query {
        Query::table(&ROLE_APPOINTMENTS, limit)
    }
}

/// The roles an actor holds, as loaded for a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    /// The actor's account.
    pub account: AccountId,
    /// Its appointments (in force or not).
    pub held: Vec<Held>,
}

impl Roles {
    /// An account holding no role.
    pub fn none(account: AccountId) -> Roles {
        Roles {
            account,
            held: Vec::new(),
        }
    }

    /// Does the account hold `role` (for `department`, where per department) on `today`?
    pub fn holds(&self, role: Role, department: Option<&str>, today: Date) -> bool {
        self.held.iter().any(|h| {
            h.role == role
                && h.in_force(today)
                && (!role.per_department() || h.department.as_deref() == department)
        })
    }

    /// Refuses unless [`Roles::holds`].
    pub fn require(
        &self,
        role: Role,
        department: Option<&str>,
        today: Date,
    ) -> Result<(), AccessError> {
        if self.holds(role, department, today) {
            Ok(())
        } else {
            Err(AccessError::NotPermitted { role })
        }
    }

    /// The roles in force on `today`.
    pub fn in_force(&self, today: Date) -> impl Iterator<Item = &Held> {
        self.held.iter().filter(move |h| h.in_force(today))
    }
}

/// `access.role_appointment/1`: `account` appointed to `role` (for `department`) from
/// `valid_from`, until `valid_until` if given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleAppointed {
    /// The role.
    pub role: Role,
    /// The department, for a per-department role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The account appointed.
    pub account: String,
    /// First day.
    pub valid_from: Date,
    /// Last day, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Date>,
}

/// `appointed:monitoring_manager:nursing`, `dismissed:auditor`.
fn role_event(what: &str, role: Role, department: &Option<String>) -> String {
    match department {
        Some(d) => format!("{what}:{}:{d}", role.as_str()),
        None => format!("{what}:{}", role.as_str()),
    }
}

fn department_value(department: &Option<String>) -> Value {
    Value::Text(department.clone().unwrap_or_default())
}

fn check_scope(role: Role, department: &Option<String>) -> Result<(), Invalid> {
    if role.per_department() != department.is_some() {
        return Err(Invalid {
            field: "department",
            why: "is required for a per-department role and absent otherwise",
        });
    }
    Ok(())
}

impl EntryKind for RoleAppointed {
    const KIND: &'static str = "access.role_appointment/1";
    const PROJECTION: Projection = Projection::Into(&[&ROLE_APPOINTMENTS, &ACCOUNT_HISTORY]);

    fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_scope(self.role, &self.department)?;
        AccountId::parse(&self.account).map_err(|_| Invalid {
            field: "account",
            why: "is not an account id",
        })?;
        if self.valid_until.is_some_and(|u| u < self.valid_from) {
            return Err(Invalid {
                field: "valid_until",
                why: "is before valid_from",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(
            meta,
            &self.account,
            &role_event("appointed", self.role, &self.department),
        ));
        out.push(Change::upsert(
            &ROLE_APPOINTMENTS,
            vec![
                Value::Text(self.role.as_str().into()),
                department_value(&self.department),
                Value::Text(self.account.clone()),
                Value::Text(self.valid_from.to_string()),
                self.valid_until
                    .map_or(Value::Null, |d| Value::Text(d.to_string())),
            ],
        ));
    }

    fn example() -> Self {
        RoleAppointed {
            role: Role::MonitoringManager,
            department: Some("internal-medicine".into()),
            account: "tanaka.ichiro".into(),
            valid_from: crate::example_date(),
            valid_until: None,
        }
    }
}

/// `access.role_dismissal/1`: `account` no longer holds `role` (for `department`). The reason
/// says why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleDismissed {
    /// The role.
    pub role: Role,
    /// The department, for a per-department role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// The account.
    pub account: String,
}

impl EntryKind for RoleDismissed {
    const KIND: &'static str = "access.role_dismissal/1";
    const PROJECTION: Projection = Projection::Into(&[&ROLE_APPOINTMENTS, &ACCOUNT_HISTORY]);

    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
        check_scope(self.role, &self.department)?;
        if meta.reason.is_none() {
            return Err(Invalid {
                field: "reason",
                why: "is required",
            });
        }
        Ok(())
    }

    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>) {
        out.push(history(
            meta,
            &self.account,
            &role_event("dismissed", self.role, &self.department),
        ));
        out.push(Change::delete(
            &ROLE_APPOINTMENTS,
            vec![
                Value::Text(self.role.as_str().into()),
                department_value(&self.department),
                Value::Text(self.account.clone()),
            ],
        ));
    }

    fn example() -> Self {
        RoleDismissed {
            role: Role::Auditor,
            department: None,
            account: "suzuki.hanako".into(),
        }
    }
}

/// What an appointment asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appointment {
    /// The role.
    pub role: Role,
    /// The department, for a per-department role (it must be active; the caller checks).
    pub department: Option<String>,
    /// First day.
    pub valid_from: Date,
    /// Last day, if any.
    pub valid_until: Option<Date>,
}

/// Appoints `target` (whose current roles are `target_roles`) as the appointment says. Only
/// the system administrator appoints; nobody appoints themselves; the account must be active;
/// a role that conflicts with one the account holds is refused. The request expects the
/// account's stream at the version read, so an appointment cannot race a suspension.
pub fn appoint(
    by: &Roles,
    actor: Actor,
    target: &AccountState,
    target_roles: &Roles,
    appointment: Appointment,
    today: Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    if by.account.as_str() == target.account {
        return Err(AccessError::OwnMatter("nobody appoints themselves"));
    }
    if target.status != Status::Active {
        return Err(AccessError::WrongState {
            step: "appoint",
            state: target.status.as_str(),
        });
    }
    check_scope(appointment.role, &appointment.department)?;
    if appointment
        .valid_until
        .is_some_and(|u| u < appointment.valid_from || u < today)
    {
        return Err(AccessError::Invalid {
            field: "valid_until",
            why: "is before valid_from or in the past",
        });
    }
    let held = target_roles
        .held
        .iter()
        .any(|h| h.role == appointment.role && h.department == appointment.department);
    if held {
        return Err(AccessError::AlreadyHeld);
    }
    if let Some(h) = target_roles
        .held
        .iter()
        .find(|h| appointment.role.incompatible().contains(&h.role))
    {
        return Err(AccessError::ConflictingRoles {
            held: h.role,
            wanted: appointment.role,
        });
    }
    let draft = Draft::new(
        actor,
        RoleAppointed {
            role: appointment.role,
            department: appointment.department,
            account: target.account.clone(),
            valid_from: appointment.valid_from,
            valid_until: appointment.valid_until,
        },
    );
    Ok(Request::one(draft).expecting(target.expect_current()))
}

/// Dismisses `target` from `role` (for `department`), with a reason. Only the system
/// administrator dismisses, and not from their own roles (another administrator must).
pub fn dismiss(
    by: &Roles,
    actor: Actor,
    target_roles: &Roles,
    role: Role,
    department: Option<String>,
    reason: &str,
    today: Date,
) -> Result<Request, AccessError> {
    by.require(Role::SystemAdministrator, None, today)?;
    if by.account == target_roles.account {
        return Err(AccessError::OwnMatter("nobody dismisses themselves"));
    }
    check_reason(reason)?;
    if !target_roles
        .held
        .iter()
        .any(|h| h.role == role && h.department == department)
    {
        return Err(AccessError::NotHeld);
    }
    let draft = Draft::new(
        actor,
        RoleDismissed {
            role,
            department,
            account: target_roles.account.to_string(),
        },
    )
    .because(reason);
    Ok(Request::one(draft))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiroku_core::EntryIndex;
    use kiroku_core::Timestamp;

    fn date(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    fn admin() -> Roles {
        Roles {
            account: AccountId::parse("director").unwrap(),
            held: vec![Held {
                role: Role::SystemAdministrator,
                department: None,
                account: "director".into(),
                valid_from: date("2026-04-01"),
                valid_until: None,
            }],
        }
    }

    fn account(name: &str, status: Status) -> AccountState {
        AccountState {
            account: name.into(),
            version: 3,
            status,
            since: Timestamp::EPOCH,
            last_entry: EntryIndex(9),
        }
    }

    fn appointment(role: Role, department: Option<&str>) -> Appointment {
        Appointment {
            role,
            department: department.map(str::to_owned),
            valid_from: date("2026-12-01"),
            valid_until: None,
        }
    }

    // Shows appointments: the administrator appoints others (never themselves); per-department
    // roles need a department and others refuse one; an account holding an administrative
    // role cannot be made an auditor; suspended accounts are not appointed; the request
    // expects the account's version.
    #[test]
    fn appointments() {
        let today = date("2026-11-25");
        let target = account("yamada.taro", Status::Active);
        let none = Roles::none(AccountId::parse("yamada.taro").unwrap());
        let actor = Actor::operator("test");
        let ok = appoint(
            &admin(),
            actor.clone(),
            &target,
            &none,
            appointment(Role::Auditor, None),
            today,
        )
        .unwrap();
        assert_eq!(ok.expect.len(), 1);
        assert!(appoint(
            &admin(),
            actor.clone(),
            &target,
            &none,
            appointment(Role::MonitoringManager, Some("nursing")),
            today
        )
        .is_ok());
        assert!(matches!(
            appoint(
                &admin(),
                actor.clone(),
                &target,
                &none,
                appointment(Role::MonitoringManager, None),
                today
            )
            .unwrap_err(),
            AccessError::Invalid {
                field: "department",
                ..
            }
        ));
        assert!(matches!(
            appoint(
                &admin(),
                actor.clone(),
                &target,
                &none,
                appointment(Role::Auditor, Some("nursing")),
                today
            )
            .unwrap_err(),
            AccessError::Invalid {
                field: "department",
                ..
            }
        ));
        let self_target = account("director", Status::Active);
        assert!(matches!(
            appoint(
                &admin(),
                actor.clone(),
                &self_target,
                &admin(),
                appointment(Role::OperationsManager, None),
                today
            )
            .unwrap_err(),
            AccessError::OwnMatter(_)
        ));
        let mut operations = none.clone();
        operations.held.push(Held {
            role: Role::OperationsManager,
            department: None,
            account: "yamada.taro".into(),
            valid_from: date("2026-04-01"),
            valid_until: None,
        });
        assert_eq!(
            appoint(
                &admin(),
                actor.clone(),
                &target,
                &operations,
                appointment(Role::Auditor, None),
                today
            )
            .unwrap_err(),
            AccessError::ConflictingRoles {
                held: Role::OperationsManager,
                wanted: Role::Auditor
            }
        );
        assert_eq!(
            appoint(
                &admin(),
                actor.clone(),
                &target,
                &operations,
                appointment(Role::OperationsManager, None),
                today
            )
            .unwrap_err(),
            AccessError::AlreadyHeld
        );
        assert!(matches!(
            appoint(
                &admin(),
                actor.clone(),
                &account("yamada.taro", Status::Suspended),
                &none,
                appointment(Role::Auditor, None),
                today
            )
            .unwrap_err(),
            AccessError::WrongState { .. }
        ));
        assert_eq!(
            appoint(
                &none,
                actor,
                &target,
                &none,
                appointment(Role::Auditor, None),
                today
            )
            .unwrap_err(),
            AccessError::NotPermitted {
                role: Role::SystemAdministrator
            }
        );
    }

    // Shows status changes: only the administrator, never on their own account, from the
    // current version, only where the status allows it, and always with a reason.
    #[test]
    fn status_changes() {
        use crate::account::{change_status, StatusStep};
        let today = date("2026-11-25");
        let actor = Actor::operator("test");
        let active = account("yamada.taro", Status::Active);
        let suspended = account("yamada.taro", Status::Suspended);
        let ok = change_status(
            &admin(),
            actor.clone(),
            &active,
            StatusStep::Suspend,
            3,
            "監査指摘",
            today,
        )
        .unwrap();
        assert_eq!(ok.drafts[0].reason.as_deref(), Some("監査指摘"));
        assert!(change_status(
            &admin(),
            actor.clone(),
            &suspended,
            StatusStep::Reinstate,
            3,
            "是正確認",
            today
        )
        .is_ok());
        assert!(change_status(
            &admin(),
            actor.clone(),
            &suspended,
            StatusStep::Deactivate,
            3,
            "退職",
            today
        )
        .is_ok());
        assert!(matches!(
            change_status(
                &admin(),
                actor.clone(),
                &active,
                StatusStep::Reinstate,
                3,
                "x",
                today
            )
            .unwrap_err(),
            AccessError::WrongState {
                step: "reinstate",
                state: "active"
            }
        ));
        assert!(matches!(
            change_status(
                &admin(),
                actor.clone(),
                &account("yamada.taro", Status::Deactivated),
                StatusStep::Reinstate,
                3,
                "x",
                today
            )
            .unwrap_err(),
            AccessError::WrongState { .. }
        ));
        assert_eq!(
            change_status(
                &admin(),
                actor.clone(),
                &active,
                StatusStep::Suspend,
                2,
                "x",
                today
            )
            .unwrap_err(),
            AccessError::Stale {
                expected: 2,
                current: 3
            }
        );
        assert_eq!(
            change_status(
                &admin(),
                actor.clone(),
                &active,
                StatusStep::Suspend,
                3,
                "",
                today
            )
            .unwrap_err(),
            AccessError::Reason
        );
        assert!(matches!(
            change_status(
                &admin(),
                actor,
                &account("director", Status::Active),
                StatusStep::Suspend,
                3,
                "x",
                today
            )
            .unwrap_err(),
            AccessError::OwnMatter(_)
        ));
    }
}
