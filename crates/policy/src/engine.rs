//! Access decisions by Cedar. A policy text is compiled once — parsed, each policy named by its
//! `@id` annotation, validated against Kiroku's schema, and checked not to lock the system
//! administrator out of policy changes — and then answers "may this account do this to that,
//! and which policies say so" without touching storage: the caller passes the principal and
//! the resource as plain values.

use crate::error::PolicyError;
use cedar_policy::{
    Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId, EntityTypeName,
    EntityUid, PolicyId, PolicySet, Request, RestrictedExpression, Schema, ValidationMode,
    Validator,
};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Mutex;

/// The schema every policy is validated against.
pub const SCHEMA: &str = include_str!("schema.cedarschema");
/// The default policy set: version 1 of every data directory.
pub const DEFAULT_POLICY: &str = include_str!("default.cedar");
/// The largest policy text accepted.
pub const POLICY_TEXT_MAX: usize = 64 * 1024;

/// What an account may be asked to do. Each is a Cedar action of the schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Submit an ID application (Art. 12).
    ApplyForAccount,
    /// Read the account registers: applications, accounts, roles.
    ReadRegisters,
    /// Appoint and dismiss governance roles.
    AppointRoles,
    /// Define departments and job types.
    DefineCodes,
    /// Propose a new policy version.
    ProposePolicy,
    /// Approve or reject a proposed policy version.
    ApprovePolicy,
    /// Read the ledger's entry bundles (auditors).
    ReadEntryBundles,
    /// Open and close access reviews.
    OpenAccessReview,
    /// Register system clients and revoke their tokens.
    ManageClients,
    /// Endorse an ID application (the department head).
    EndorseApplication,
    /// Approve or reject an ID application.
    DecideApplication,
    /// Suspend, reinstate or deactivate an account.
    ChangeAccountStatus,
    /// Report a change of an account's situation (Art. 12(5)).
    ReportStatusChange,
    /// Confirm or revoke a department's members in an access review.
    ReviewMembers,
    /// Handle a status-change report about an account (its department's head, an operations
    /// manager).
    HandleReports,
    /// Read a patient's identity.
    ReadPatient,
    /// Read a clinical record.
    ReadRecord,
    /// Write a clinical record.
    WriteRecord,
    /// Enter a clinical record on a clinician's behalf (代行入力): the entry is the proxy's,
    /// and it waits for that clinician's confirmation.
    EnterOnBehalf,
    /// Open a patient's records without a care relationship, stating a reason
    /// (break-the-glass).
    BreakGlass,
    /// Review break-the-glass accesses.
    ReviewEmergencyAccess,
    /// Write what relates people to a patient's care: an encounter's participants or
    /// department, a care team's members.
    AssignCare,
    /// Change a patient's flags (the VIP and staff labels of the chart).
    ChangePatientFlags,
    /// Bind a staff identity (a Practitioner resource) to an account.
    BindStaffIdentity,
}

impl Action {
    /// Every action, in the schema's order.
    pub const ALL: [Action; 24] = [
        Action::ApplyForAccount,
        Action::ReadRegisters,
        Action::AppointRoles,
        Action::DefineCodes,
        Action::ProposePolicy,
        Action::ApprovePolicy,
        Action::ReadEntryBundles,
        Action::OpenAccessReview,
        Action::ManageClients,
        Action::EndorseApplication,
        Action::DecideApplication,
        Action::ChangeAccountStatus,
        Action::ReportStatusChange,
        Action::ReviewMembers,
        Action::HandleReports,
        Action::ReadPatient,
        Action::ReadRecord,
        Action::WriteRecord,
        Action::EnterOnBehalf,
        Action::BreakGlass,
        Action::ReviewEmergencyAccess,
        Action::AssignCare,
        Action::ChangePatientFlags,
        Action::BindStaffIdentity,
    ];

    /// The action's name in the schema.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::ApplyForAccount => "ApplyForAccount",
            Action::ReadRegisters => "ReadRegisters",
            Action::AppointRoles => "AppointRoles",
            Action::DefineCodes => "DefineCodes",
            Action::ProposePolicy => "ProposePolicy",
            Action::ApprovePolicy => "ApprovePolicy",
            Action::ReadEntryBundles => "ReadEntryBundles",
            Action::OpenAccessReview => "OpenAccessReview",
            Action::ManageClients => "ManageClients",
            Action::EndorseApplication => "EndorseApplication",
            Action::DecideApplication => "DecideApplication",
            Action::ChangeAccountStatus => "ChangeAccountStatus",
            Action::ReportStatusChange => "ReportStatusChange",
            Action::ReviewMembers => "ReviewMembers",
            Action::HandleReports => "HandleReports",
            Action::ReadPatient => "ReadPatient",
            Action::ReadRecord => "ReadRecord",
            Action::WriteRecord => "WriteRecord",
            Action::EnterOnBehalf => "EnterOnBehalf",
            Action::BreakGlass => "BreakGlass",
            Action::ReviewEmergencyAccess => "ReviewEmergencyAccess",
            Action::AssignCare => "AssignCare",
            Action::ChangePatientFlags => "ChangePatientFlags",
            Action::BindStaffIdentity => "BindStaffIdentity",
        }
    }

    /// The action of a name.
    pub fn parse(text: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == text)
    }

    /// A resource of the type the action applies to, for questions that name none ("may this
    /// account read records at all?").
    pub fn any_resource(self) -> Resource {
        match self {
            Action::EndorseApplication | Action::DecideApplication => Resource::Application {
                id: "any".into(),
                department: String::new(),
            },
            Action::ChangeAccountStatus
            | Action::ReportStatusChange
            | Action::BindStaffIdentity => Resource::Account(Box::new(Principal {
                id: "any".into(),
                kind: PrincipalKind::Person,
                status: "active".into(),
                job_type: String::new(),
                department: String::new(),
                category: String::new(),
                roles: Vec::new(),
                heads: Vec::new(),
                scopes: Vec::new(),
            })),
            Action::ReviewMembers => Resource::Department(String::new()),
            Action::AssignCare => Resource::CareAssignment {
                id: "any".into(),
                care: Care::default(),
                assigns_self: false,
            },
            Action::ReadPatient | Action::BreakGlass | Action::ChangePatientFlags => {
                Resource::Patient {
                    id: "any".into(),
                    care: Care::default(),
                }
            }
            Action::ReadRecord | Action::WriteRecord | Action::EnterOnBehalf => Resource::Record {
                id: "any".into(),
                category: String::new(),
                department: String::new(),
                care: Care::default(),
            },
            _ => Resource::System,
        }
    }
}

/// What kind of principal acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    /// A person with an account.
    Person,
    /// A system client (Art. 4(5), 6).
    Client,
    /// Whoever holds the data directory and its operator token.
    Operator,
}

impl PrincipalKind {
    /// The kind as policies name it.
    pub fn as_str(self) -> &'static str {
        match self {
            PrincipalKind::Person => "person",
            PrincipalKind::Client => "client",
            PrincipalKind::Operator => "operator",
        }
    }
}

/// An account as policies see it: the attributes the regulations restrict use by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The account id.
    pub id: String,
    /// Person, client or operator.
    pub kind: PrincipalKind,
    /// `active`, `suspended`, `deactivated`.
    pub status: String,
    /// A job-type code.
    pub job_type: String,
    /// A department code.
    pub department: String,
    /// An Art. 10 category.
    pub category: String,
    /// Hospital-wide governance roles in force.
    pub roles: Vec<String>,
    /// Departments whose monitoring manager the account is, today.
    pub heads: Vec<String>,
    /// A system client's scopes.
    pub scopes: Vec<String>,
}

/// What an action is done to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// The system's registers and governance.
    System,
    /// A department.
    Department(String),
    /// An ID application of a department.
    Application {
        /// Its id.
        id: String,
        /// The department it applies to.
        department: String,
    },
    /// An account (its attributes, as a principal's).
    Account(Box<Principal>),
    /// A patient.
    Patient {
        /// Its id.
        id: String,
        /// How the asking account is related to the patient.
        care: Care,
    },
    /// A write that relates people to a patient's care.
    CareAssignment {
        /// The patient's id.
        id: String,
        /// How the writing account is related to the patient, and the patient's flags.
        care: Care,
        /// Does the write name the writer, or the writer's department?
        assigns_self: bool,
    },
    /// A clinical record.
    Record {
        /// Its id.
        id: String,
        /// Its category (`medical`, `nursing`, …).
        category: String,
        /// The department that keeps it.
        department: String,
        /// How the asking account is related to the record's patient.
        care: Care,
    },
}

/// How the asking account is related to a patient, and what the patient's chart is flagged
/// with: the attributes `relationship` and `flags` of a `Patient` and a `Record`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Care {
    /// `care-team`, `encounter`, `department` (the account's department saw the patient),
    /// `emergency` (a break-the-glass access is open) or `none`; empty when not asked (a
    /// system client, or a question about no patient in particular).
    pub relationship: String,
    /// The chart's flags: `vip`, `staff` (a staff member's own chart).
    pub flags: Vec<String>,
}

impl Care {
    fn attributes(&self) -> [(String, RestrictedExpression); 2] {
        [
            ("relationship".to_owned(), text(&self.relationship)),
            ("flags".to_owned(), strings(&self.flags)),
        ]
    }
}

/// A decision and the policies that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    /// Allowed?
    pub allowed: bool,
    /// The `@id`s of the policies that decided: the permits that allowed it, or the forbids
    /// that denied it (none: nothing permits it, so it is denied by default).
    pub policies: Vec<String>,
    /// Errors met while evaluating policies (a policy that errs is skipped), as text.
    pub errors: Vec<String>,
}

/// A compiled policy set, ready to decide.
#[derive(Debug)]
pub struct Engine {
    schema: Schema,
    policies: PolicySet,
    authorizer: Authorizer,
    types: Types,
    /// No policy names a patient or a record by its id: a decision about one depends on its
    /// attributes alone, so one answer serves every patient or record described alike.
    ids_unnamed: bool,
    /// Decisions about patients and records already made by this set: a decision is a pure
    /// function of the set and what it is asked, so an answer given once is the answer.
    memo: Mutex<HashMap<(Principal, Action, Resource), Decision>>,
}

/// Most decisions an engine remembers; it forgets them all when full.
const MEMO_MAX: usize = 4096;

#[derive(Debug)]
struct Types {
    account: EntityTypeName,
    department: EntityTypeName,
    system: EntityTypeName,
    application: EntityTypeName,
    patient: EntityTypeName,
    record: EntityTypeName,
    assignment: EntityTypeName,
    action: EntityTypeName,
}

fn type_name(name: &str) -> Result<EntityTypeName, PolicyError> {
    EntityTypeName::from_str(name).map_err(|e| PolicyError::Internal(e.to_string()))
}

impl Types {
    fn new() -> Result<Types, PolicyError> {
        Ok(Types {
            account: type_name("Kiroku::Account")?,
            department: type_name("Kiroku::Department")?,
            system: type_name("Kiroku::System")?,
            application: type_name("Kiroku::Application")?,
            patient: type_name("Kiroku::Patient")?,
            record: type_name("Kiroku::Record")?,
            assignment: type_name("Kiroku::CareAssignment")?,
            action: type_name("Kiroku::Action")?,
        })
    }
}

fn uid(kind: &EntityTypeName, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(kind.clone(), EntityId::new(id))
}

fn strings(values: &[String]) -> RestrictedExpression {
    RestrictedExpression::new_set(
        values
            .iter()
            .map(|v| RestrictedExpression::new_string(v.clone())),
    )
}

fn text(value: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(value.to_owned())
}

/// The schema, parsed.
pub fn schema() -> Result<Schema, PolicyError> {
    let (schema, _warnings) =
        Schema::from_cedarschema_str(SCHEMA).map_err(|e| PolicyError::Internal(e.to_string()))?;
    Ok(schema)
}

impl Engine {
    /// Compiles a policy text: parses it, names each policy by its `@id`, validates it against
    /// the schema, and refuses a set under which no system administrator could propose or
    /// approve the next version.
    pub fn compile(source: &str) -> Result<Engine, PolicyError> {
        if source.len() > POLICY_TEXT_MAX {
            return Err(PolicyError::TooLong {
                max: POLICY_TEXT_MAX,
            });
        }
        let parsed =
            PolicySet::from_str(source).map_err(|e| PolicyError::Parse(format!("{e:?}")))?;
        if parsed.templates().next().is_some() {
            return Err(PolicyError::Templates);
        }
        let mut policies = PolicySet::new();
        let mut unnamed = 0usize;
        for policy in parsed.policies() {
            let Some(id) = policy.annotation("id") else {
                unnamed += 1;
                continue;
            };
            let named = policy.new_id(PolicyId::new(id));
            policies
                .add(named)
                .map_err(|_| PolicyError::DuplicateId(id.to_owned()))?;
        }
        if unnamed > 0 {
            return Err(PolicyError::Unnamed(unnamed));
        }
        let schema = schema()?;
        let validation = Validator::new(schema.clone()).validate(&policies, ValidationMode::Strict);
        if !validation.validation_passed() {
            return Err(PolicyError::Invalid(
                validation
                    .validation_errors()
                    .map(|e| e.to_string())
                    .collect(),
            ));
        }
        let types = Types::new()?;
        let ids_unnamed = !policies.policies().any(|p| {
            p.entity_literals().iter().any(|uid| {
                let kind = uid.type_name();
                *kind == types.patient || *kind == types.record || *kind == types.assignment
            })
        });
        let engine = Engine {
            schema,
            policies,
            authorizer: Authorizer::new(),
            types,
            ids_unnamed,
            memo: Mutex::new(HashMap::new()),
        };
        engine.check_not_locked_out()?;
        Ok(engine)
    }

    fn check_not_locked_out(&self) -> Result<(), PolicyError> {
        let administrator = Principal {
            id: "policy-check".into(),
            kind: PrincipalKind::Person,
            status: "active".into(),
            job_type: "system-operator".into(),
            department: "information-systems".into(),
            category: "medical_staff".into(),
            roles: vec!["system_administrator".into()],
            heads: Vec::new(),
            scopes: Vec::new(),
        };
        for action in [Action::ProposePolicy, Action::ApprovePolicy] {
            if !self
                .decide(&administrator, action, &Resource::System)?
                .allowed
            {
                return Err(PolicyError::LocksOut(action.as_str()));
            }
        }
        Ok(())
    }

    /// The ids of the policies of the set, in id order.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// The source of policy `id`, if the set has it.
    pub fn policy_text(&self, id: &str) -> Option<String> {
        self.policies
            .policy(&PolicyId::new(id))
            .map(|p| p.to_string())
    }

    fn principal_entity(&self, p: &Principal) -> Result<Entity, PolicyError> {
        let attrs = HashMap::from([
            ("kind".to_owned(), text(p.kind.as_str())),
            ("status".to_owned(), text(&p.status)),
            ("job_type".to_owned(), text(&p.job_type)),
            ("department".to_owned(), text(&p.department)),
            ("category".to_owned(), text(&p.category)),
            ("roles".to_owned(), strings(&p.roles)),
            ("heads".to_owned(), strings(&p.heads)),
            ("scopes".to_owned(), strings(&p.scopes)),
        ]);
        let parents = HashSet::from([uid(&self.types.department, &p.department)]);
        Entity::new(uid(&self.types.account, &p.id), attrs, parents)
            .map_err(|e| PolicyError::Internal(e.to_string()))
    }

    fn resource_entity(&self, r: &Resource) -> Result<Entity, PolicyError> {
        let t = &self.types;
        let plain = |uid: EntityUid| Ok(Entity::new_no_attrs(uid, HashSet::new()));
        match r {
            Resource::System => plain(uid(&t.system, "kiroku")),
            Resource::Department(code) => Entity::new(
                uid(&t.department, code),
                HashMap::from([("code".to_owned(), text(code))]),
                HashSet::new(),
            )
            .map_err(|e| PolicyError::Internal(e.to_string())),
            Resource::Patient { id, care } => Entity::new(
                uid(&t.patient, id),
                HashMap::from(care.attributes()),
                HashSet::new(),
            )
            .map_err(|e| PolicyError::Internal(e.to_string())),
            Resource::Account(p) => self.principal_entity(p),
            Resource::CareAssignment {
                id,
                care,
                assigns_self,
            } => Entity::new(
                uid(&t.assignment, id),
                care.attributes()
                    .into_iter()
                    .chain([(
                        "assigns_self".to_owned(),
                        RestrictedExpression::new_bool(*assigns_self),
                    )])
                    .collect::<HashMap<_, _>>(),
                HashSet::new(),
            )
            .map_err(|e| PolicyError::Internal(e.to_string())),
            Resource::Application { id, department } => Entity::new(
                uid(&t.application, id),
                HashMap::from([("department".to_owned(), text(department))]),
                HashSet::new(),
            )
            .map_err(|e| PolicyError::Internal(e.to_string())),
            Resource::Record {
                id,
                category,
                department,
                care,
            } => Entity::new(
                uid(&t.record, id),
                [
                    ("category".to_owned(), text(category)),
                    ("department".to_owned(), text(department)),
                ]
                .into_iter()
                .chain(care.attributes())
                .collect::<HashMap<_, _>>(),
                HashSet::new(),
            )
            .map_err(|e| PolicyError::Internal(e.to_string())),
        }
    }

    /// May `principal` do `action` to `resource`, and which policies say so? Decisions about
    /// patients and records are remembered: the same question gets the same answer without
    /// evaluating the policies again.
    pub fn decide(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<Decision, PolicyError> {
        let asked = match resource {
            Resource::Patient { .. } | Resource::Record { .. } => {
                (principal.clone(), action, self.as_remembered(resource))
            }
            _ => return self.evaluate(principal, action, resource),
        };
        if let Some(known) = self.memo.lock().ok().and_then(|m| m.get(&asked).cloned()) {
            return Ok(known);
        }
        let decision = self.evaluate(principal, action, resource)?;
        if let Ok(mut memo) = self.memo.lock() {
            if memo.len() >= MEMO_MAX {
                memo.clear();
            }
            memo.insert(asked, decision.clone());
        }
        Ok(decision)
    }

    /// A patient or record as the memo knows it: without its id when no policy names one.
    fn as_remembered(&self, resource: &Resource) -> Resource {
        let mut remembered = resource.clone();
        if self.ids_unnamed {
            if let Resource::Patient { id, .. } | Resource::Record { id, .. } = &mut remembered {
                id.clear();
            }
        }
        remembered
    }

    /// Evaluates the policies.
    fn evaluate(
        &self,
        principal: &Principal,
        action: Action,
        resource: &Resource,
    ) -> Result<Decision, PolicyError> {
        let who = self.principal_entity(principal)?;
        let what = self.resource_entity(resource)?;
        let request = Request::new(
            who.uid(),
            uid(&self.types.action, action.as_str()),
            what.uid(),
            Context::empty(),
            Some(&self.schema),
        )
        .map_err(|e| PolicyError::Request(e.to_string()))?;
        let mut entities = vec![who];
        if !entities.iter().any(|e| e.uid() == what.uid()) {
            entities.push(what);
        }
        let entities = Entities::from_entities(entities, Some(&self.schema))
            .map_err(|e| PolicyError::Request(e.to_string()))?;
        let response = self
            .authorizer
            .is_authorized(&request, &self.policies, &entities);
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(|id| id.to_string())
            .collect();
        policies.sort();
        Ok(Decision {
            allowed: response.decision() == CedarDecision::Allow,
            policies,
            errors: response
                .diagnostics()
                .errors()
                .map(|e| e.to_string())
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(job_type: &str, roles: &[&str], heads: &[&str]) -> Principal {
        Principal {
            id: "yamada.taro".into(),
            kind: PrincipalKind::Person,
            status: "active".into(),
            job_type: job_type.into(),
            department: "internal-medicine".into(),
            category: "medical_staff".into(),
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            heads: heads.iter().map(|r| (*r).to_owned()).collect(),
            scopes: Vec::new(),
        }
    }

    fn record(category: &str) -> Resource {
        cared(category, "encounter", &[])
    }

    fn cared(category: &str, relationship: &str, flags: &[&str]) -> Resource {
        Resource::Record {
            id: "r1".into(),
            category: category.into(),
            department: "internal-medicine".into(),
            care: Care {
                relationship: relationship.into(),
                flags: flags.iter().map(|f| (*f).to_owned()).collect(),
            },
        }
    }

    // Shows that a person reads a patient's records only within a care relationship (or under
    // break-the-glass), that administrative records are written without one, that a flagged
    // chart asks for more than the department, and that systems are not asked.
    #[test]
    fn default_policy_asks_for_a_care_relationship() {
        let engine = Engine::compile(DEFAULT_POLICY).unwrap();
        let doctor = person("doctor", &[], &[]);
        let allowed = |who: &Principal, action, resource: &Resource| {
            engine.decide(who, action, resource).unwrap().allowed
        };
        for relationship in ["care-team", "encounter", "department", "emergency", ""] {
            assert!(allowed(
                &doctor,
                Action::ReadRecord,
                &cared("medical", relationship, &[])
            ));
        }
        let d = engine
            .decide(&doctor, Action::ReadRecord, &cared("medical", "none", &[]))
            .unwrap();
        assert!(!d.allowed);
        assert_eq!(d.policies, vec!["care-relationship-required".to_owned()]);
        assert!(!allowed(
            &doctor,
            Action::WriteRecord,
            &cared("medical", "none", &[])
        ));
        assert!(allowed(
            &doctor,
            Action::WriteRecord,
            &cared("administrative", "none", &[])
        ));
        assert!(!allowed(
            &doctor,
            Action::ReadRecord,
            &cared("medical", "department", &["vip"])
        ));
        assert!(allowed(
            &doctor,
            Action::ReadRecord,
            &cared("medical", "encounter", &["vip"])
        ));
        assert!(allowed(
            &doctor,
            Action::ReadRecord,
            &cared("medical", "emergency", &["staff"])
        ));
        let mut system = person("departmental-system", &[], &[]);
        system.kind = PrincipalKind::Client;
        system.scopes = vec!["clinical.read".into()];
        assert!(allowed(
            &system,
            Action::ReadRecord,
            &cared("medical", "none", &[])
        ));
        let patient = Resource::Patient {
            id: "p1".into(),
            care: Care {
                relationship: "none".into(),
                flags: Vec::new(),
            },
        };
        assert!(allowed(&doctor, Action::BreakGlass, &patient));
        assert!(!allowed(
            &person("student", &[], &[]),
            Action::BreakGlass,
            &patient
        ));
        assert!(!allowed(
            &person("medical-clerk", &[], &[]),
            Action::BreakGlass,
            &patient
        ));
        assert!(allowed(
            &person("system-operator", &["audit_manager"], &[]),
            Action::ReviewEmergencyAccess,
            &Resource::System
        ));
        assert!(!allowed(
            &doctor,
            Action::ReviewEmergencyAccess,
            &Resource::System
        ));
    }

    // Shows that the default policy compiles, and decides by job type with the policy named.
    #[test]
    fn default_policy_decides_by_job_type() {
        let engine = Engine::compile(DEFAULT_POLICY).unwrap();
        let nurse = person("nurse", &[], &[]);
        let d = engine
            .decide(&nurse, Action::WriteRecord, &record("nursing"))
            .unwrap();
        assert!(d.allowed);
        assert_eq!(d.policies, vec!["staff-write-their-records".to_owned()]);
        let d = engine
            .decide(&nurse, Action::WriteRecord, &record("medical"))
            .unwrap();
        assert!(!d.allowed);
        assert!(d.policies.is_empty());
        let vendor = person("vendor-engineer", &[], &[]);
        assert!(
            !engine
                .decide(&vendor, Action::ReadRecord, &record("medical"))
                .unwrap()
                .allowed
        );
        let mut suspended = person("doctor", &[], &[]);
        suspended.status = "suspended".into();
        let d = engine
            .decide(&suspended, Action::ReadRecord, &record("medical"))
            .unwrap();
        assert!(!d.allowed);
        assert_eq!(d.policies, vec!["only-active-accounts".to_owned()]);
    }

    // Shows that department heads endorse only their own department's applications.
    #[test]
    fn heads_endorse_their_department() {
        let engine = Engine::compile(DEFAULT_POLICY).unwrap();
        let head = person("doctor", &[], &["surgery"]);
        let app = |d: &str| Resource::Application {
            id: "9".into(),
            department: d.into(),
        };
        assert!(
            engine
                .decide(&head, Action::EndorseApplication, &app("surgery"))
                .unwrap()
                .allowed
        );
        assert!(
            !engine
                .decide(&head, Action::EndorseApplication, &app("nursing"))
                .unwrap()
                .allowed
        );
    }

    // Shows that a policy set failing validation, unnamed, or locking the administrator out
    // is refused, each with its own error.
    #[test]
    fn bad_policy_sets_are_refused() {
        let unknown_attribute =
            r#"@id("x") permit(principal, action, resource) when { principal.shoe_size == 3 };"#;
        assert!(matches!(
            Engine::compile(unknown_attribute),
            Err(PolicyError::Invalid(_))
        ));
        assert!(matches!(
            Engine::compile("permit(principal, action, resource);"),
            Err(PolicyError::Unnamed(1))
        ));
        assert!(matches!(
            Engine::compile("permit(principal, action"),
            Err(PolicyError::Parse(_))
        ));
        let locked =
            r#"@id("read") permit(principal, action == Kiroku::Action::"ReadRecord", resource);"#;
        assert!(matches!(
            Engine::compile(locked),
            Err(PolicyError::LocksOut("ProposePolicy"))
        ));
    }

    // Shows that a remembered decision is the policies' own answer: asked twice it is the same,
    // and it equals a fresh evaluation; records described alike share one answer; and a set
    // that names a record by its id keeps that record apart from the others.
    #[test]
    fn remembered_decisions_are_the_policies_answers() {
        let engine = Engine::compile(DEFAULT_POLICY).unwrap();
        assert!(engine.ids_unnamed);
        let doctor = person("doctor", &[], &[]);
        for (category, relationship) in [
            ("medical", "encounter"),
            ("medical", "none"),
            ("nursing", "department"),
        ] {
            let record = cared(category, relationship, &[]);
            let first = engine.decide(&doctor, Action::ReadRecord, &record).unwrap();
            let again = engine.decide(&doctor, Action::ReadRecord, &record).unwrap();
            assert_eq!(first, again);
            assert_eq!(
                first,
                engine
                    .evaluate(&doctor, Action::ReadRecord, &record)
                    .unwrap()
            );
        }
        let record = |id: &str| Resource::Record {
            id: id.into(),
            category: "medical".into(),
            department: String::new(),
            care: Care {
                relationship: "encounter".into(),
                flags: Vec::new(),
            },
        };
        let named = format!(
            "{DEFAULT_POLICY}\n@id(\"not-this-record\")\nforbid (principal, action, resource == Kiroku::Record::\"Observation/x\");"
        );
        let engine = Engine::compile(&named).unwrap();
        assert!(!engine.ids_unnamed);
        let read = |id: &str| {
            engine
                .decide(&doctor, Action::ReadRecord, &record(id))
                .unwrap()
                .allowed
        };
        assert!(read("Observation/y"));
        assert!(!read("Observation/x"));
        assert!(read("Observation/y"));
    }
}
