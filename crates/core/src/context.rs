//! Contexts and their entry kinds, and the [`Registry`] that knows them all.
//!
//! A context (ops, access, records, …) declares its tables and its kinds. A kind is a serde
//! struct with a versioned name (`ledger.note/2`), a check of its own payload, a projection
//! into the context's tables — or an explicit statement that it projects nothing — and an
//! example for the tests that hold every kind to its declaration. The registry is built once by
//! the binary (the composition root) and handed to the store at run time; sealing refuses a
//! kind it does not know, and replay names an entry whose kind it does not know.

use crate::entry::{
    check_json, check_label, encode, Actor, Entry, EntryError, KindName, Payload, Subject,
    LABEL_BYTES_MAX, REASON_BYTES_MAX, SALT_BYTES,
};
use crate::projection::{Change, ChangeError, TableSpec};
use crate::timestamp::Timestamp;
use kiroku_ledger::hash::content_hash;
use kiroku_ledger::{leaf_hash, Hash, ENTRY_BYTES_MAX};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

/// Where a kind's projection writes: into these tables of its context, or nowhere, and why.
#[derive(Clone, Copy, Debug)]
pub enum Projection {
    /// Changes rows of these tables (and only these).
    Into(&'static [&'static TableSpec]),
    /// Projects nothing; the reason is documentation.
    Nothing(&'static str),
}

/// What a kind's check and projection may read of the envelope. The entry's index is not
/// known yet: name it with [`crate::projection::Value::THIS_ENTRY`].
#[derive(Clone, Copy, Debug)]
pub struct EntryMeta<'a> {
    /// When the entry was made.
    pub time: Timestamp,
    /// Who made it.
    pub actor: &'a Actor,
    /// About whom or what.
    pub subject: Option<&'a Subject>,
    /// Why.
    pub reason: Option<&'a str>,
}

/// A payload that breaks its kind's rules. Static text only: payloads may hold patient data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` {why}")]
pub struct Invalid {
    /// The field (or `reason`, `subject`).
    pub field: &'static str,
    /// What is wrong.
    pub why: &'static str,
}

/// An entry kind: a versioned payload type with its rules.
pub trait EntryKind:
    Serialize + DeserializeOwned + fmt::Debug + PartialEq + Send + Sync + 'static
{
    /// `family.name/version`. A kind is never redefined: a changed meaning is a new version,
    /// and old versions stay registered so old entries stay readable.
    const KIND: &'static str;
    /// Where the projection writes, or why nowhere.
    const PROJECTION: Projection;

    /// Checks the payload and the envelope fields it relies on (a required reason, say).
    fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid>;

    /// The changes this entry makes to its context's tables: a pure function of the entry.
    fn project(&self, meta: &EntryMeta<'_>, out: &mut Vec<Change>);

    /// A valid example (checked with a reason and subject present), for the registry tests.
    fn example() -> Self;
}

/// Why an entry's payload could not be interpreted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    /// No context registers this kind (or this version of it).
    #[error("no context registers the entry kind {0}")]
    Unknown(String),
    /// The payload does not have the kind's shape (messages never quote payloads).
    #[error("the payload does not have the shape of {0}")]
    Shape(&'static str),
    /// The payload breaks the kind's rules.
    #[error("{kind}: {invalid}")]
    Invalid {
        /// The kind.
        kind: &'static str,
        /// Which rule.
        invalid: Invalid,
    },
    /// The projection made a change its declaration does not allow.
    #[error("{kind}: {error}")]
    Change {
        /// The kind.
        kind: &'static str,
        /// What is wrong.
        error: ChangeError,
    },
    /// The payload could not be written as canonical JSON.
    #[error("{kind}: {error}")]
    Encode {
        /// The kind.
        kind: &'static str,
        /// What is wrong.
        error: EntryError,
    },
}

/// Checks a projection's output against the kind's declaration.
fn check_changes(
    kind: &'static str,
    projection: Projection,
    changes: &[Change],
) -> Result<(), KindError> {
    for change in changes {
        let allowed = match projection {
            Projection::Into(tables) => tables.iter().any(|t| *t == change.table()),
            Projection::Nothing(_) => false,
        };
        if !allowed {
            return Err(KindError::Change {
                kind,
                error: ChangeError::Undeclared {
                    table: change.table().name,
                },
            });
        }
        change
            .check()
            .map_err(|error| KindError::Change { kind, error })?;
    }
    Ok(())
}

/// A kind with its type erased, as the registry holds it.
pub trait KindHandler: Send + Sync {
    /// The kind's name.
    fn name(&self) -> &'static str;
    /// Its declared projection.
    fn projection(&self) -> Projection;
    /// Reads a payload as this kind, checks it and projects it.
    fn interpret(&self, meta: &EntryMeta<'_>, payload: Json) -> Result<Vec<Change>, KindError>;
    /// [`KindHandler::interpret`] from the payload's JSON text, without building a JSON tree.
    fn interpret_text(
        &self,
        meta: &EntryMeta<'_>,
        payload: &[u8],
    ) -> Result<Vec<Change>, KindError>;
    /// The kind's example payload as JSON.
    fn example(&self) -> Result<Json, KindError>;
    /// Does the example survive a JSON round trip unchanged?
    fn example_round_trips(&self) -> bool;
}

struct Typed<K>(PhantomData<fn() -> K>);

impl<K: EntryKind> KindHandler for Typed<K> {
    fn name(&self) -> &'static str {
        K::KIND
    }

    fn projection(&self) -> Projection {
        K::PROJECTION
    }

    fn interpret(&self, meta: &EntryMeta<'_>, payload: Json) -> Result<Vec<Change>, KindError> {
        let value: K = serde_json::from_value(payload).map_err(|_| KindError::Shape(K::KIND))?;
        effects(&value, meta)
    }

    fn interpret_text(
        &self,
        meta: &EntryMeta<'_>,
        payload: &[u8],
    ) -> Result<Vec<Change>, KindError> {
        let value: K = serde_json::from_slice(payload).map_err(|_| KindError::Shape(K::KIND))?;
        effects(&value, meta)
    }

    fn example(&self) -> Result<Json, KindError> {
        serde_json::to_value(K::example()).map_err(|_| KindError::Encode {
            kind: K::KIND,
            error: EntryError::Encode,
        })
    }

    fn example_round_trips(&self) -> bool {
        let example = K::example();
        serde_json::to_value(&example)
            .ok()
            .and_then(|json| serde_json::from_value::<K>(json).ok())
            .is_some_and(|back| back == example)
    }
}

/// What a payload of kind `K` does: checked, then projected, the projection held to the kind's
/// declaration.
fn effects<K: EntryKind>(value: &K, meta: &EntryMeta<'_>) -> Result<Vec<Change>, KindError> {
    value.check(meta).map_err(|invalid| KindError::Invalid {
        kind: K::KIND,
        invalid,
    })?;
    let mut changes = Vec::new();
    value.project(meta, &mut changes);
    changes.iter_mut().for_each(Change::sanitise);
    check_changes(K::KIND, K::PROJECTION, &changes)?;
    Ok(changes)
}

/// The handler of kind `K`, for [`Context::kinds`].
pub fn kind<K: EntryKind>() -> Box<dyn KindHandler> {
    Box::new(Typed::<K>(PhantomData))
}

/// A bounded context: its tables and its kinds.
pub trait Context: Send + Sync {
    /// Its name (`ops`, `access`, …).
    fn name(&self) -> &'static str;
    /// The tables it owns; only its kinds write to them.
    fn tables(&self) -> &'static [&'static TableSpec];
    /// Every kind it has ever written, old versions included.
    fn kinds(&self) -> Vec<Box<dyn KindHandler>>;
}

/// Why a set of contexts cannot form a registry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// Two contexts share a name, two kinds a name, or two tables a name.
    #[error("{what} {name} is registered twice")]
    Duplicate {
        /// Context, kind or table.
        what: &'static str,
        /// The name.
        name: String,
    },
    /// A kind name is malformed.
    #[error("kind {0} is not a valid kind name")]
    BadKind(String),
    /// A table declaration is malformed.
    #[error(transparent)]
    Table(#[from] ChangeError),
    /// A kind declares a table its context does not own.
    #[error("kind {kind} projects into {table}, which context {context} does not own")]
    ForeignTable {
        /// The kind.
        kind: &'static str,
        /// The table.
        table: &'static str,
        /// The context.
        context: &'static str,
    },
}

/// Every context of this build, their kinds and their tables.
pub struct Registry {
    contexts: Vec<&'static str>,
    kinds: BTreeMap<&'static str, (usize, Box<dyn KindHandler>)>,
    tables: Vec<&'static TableSpec>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("contexts", &self.contexts)
            .field("kinds", &self.kinds.keys().collect::<Vec<_>>())
            .field(
                "tables",
                &self.tables.iter().map(|t| t.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Registry {
    /// Registers contexts, checking that names are unique, every table is well declared, and
    /// every kind writes only to its own context's tables.
    pub fn new(contexts: &[&dyn Context]) -> Result<Registry, RegistryError> {
        let mut registry = Registry {
            contexts: Vec::new(),
            kinds: BTreeMap::new(),
            tables: Vec::new(),
        };
        for (position, context) in contexts.iter().enumerate() {
            let name = context.name();
            if registry.contexts.contains(&name) {
                return Err(RegistryError::Duplicate {
                    what: "context",
                    name: name.into(),
                });
            }
            registry.contexts.push(name);
            let owned = context.tables();
            for table in owned {
                table.check()?;
                if registry.tables.iter().any(|t| t.name == table.name) {
                    return Err(RegistryError::Duplicate {
                        what: "table",
                        name: table.name.into(),
                    });
                }
                registry.tables.push(table);
            }
            for handler in context.kinds() {
                let kind = handler.name();
                KindName::parse(kind).map_err(|_| RegistryError::BadKind(kind.into()))?;
                if let Projection::Into(tables) = handler.projection() {
                    if let Some(table) = tables.iter().find(|t| !owned.contains(t)) {
                        return Err(RegistryError::ForeignTable {
                            kind,
                            table: table.name,
                            context: name,
                        });
                    }
                }
                if registry.kinds.insert(kind, (position, handler)).is_some() {
                    return Err(RegistryError::Duplicate {
                        what: "kind",
                        name: kind.into(),
                    });
                }
            }
        }
        Ok(registry)
    }

    /// The registered contexts' names, in the order they were registered.
    pub fn contexts(&self) -> &[&'static str] {
        &self.contexts
    }

    /// The handler of a kind, if registered.
    pub fn handler(&self, kind: &str) -> Option<&dyn KindHandler> {
        self.kinds.get(kind).map(|(_, h)| h.as_ref())
    }

    /// Every registered kind with the name of its context, in kind-name order.
    pub fn kinds(&self) -> impl Iterator<Item = (&'static str, &dyn KindHandler)> {
        self.kinds
            .values()
            .map(|(context, h)| (self.contexts[*context], h.as_ref()))
    }

    /// Every table, in registration order.
    pub fn tables(&self) -> &[&'static TableSpec] {
        &self.tables
    }

    /// A table by name.
    pub fn table(&self, name: &str) -> Option<&'static TableSpec> {
        self.tables.iter().find(|t| t.name == name).copied()
    }

    /// The changes a stored entry makes, its payload resolved (from the blob store where it
    /// was moved there). References to the entry's index are left for [`Change::resolve`].
    pub fn interpret(&self, entry: &Entry, payload: Json) -> Result<Vec<Change>, KindError> {
        let handler = self
            .handler(entry.kind.as_str())
            .ok_or_else(|| KindError::Unknown(entry.kind.as_str().to_owned()))?;
        handler.interpret(&meta(entry), payload)
    }

    /// [`Registry::interpret`] of a payload given as its JSON text (raw from the entry, or a
    /// blob's bytes).
    pub fn interpret_text(&self, entry: &Entry, payload: &[u8]) -> Result<Vec<Change>, KindError> {
        let handler = self
            .handler(entry.kind.as_str())
            .ok_or_else(|| KindError::Unknown(entry.kind.as_str().to_owned()))?;
        handler.interpret_text(&meta(entry), payload)
    }

    /// Checks a draft and encodes it with its time and salt. The payload moves to the blob
    /// store when the entry would exceed `limits.entry_bytes_max`.
    pub fn seal(
        &self,
        draft: Draft,
        time: Timestamp,
        salt: [u8; SALT_BYTES],
        limits: SealLimits,
    ) -> Result<Sealed, SealError> {
        let Draft {
            kind,
            actor,
            subject,
            reason,
            payload,
        } = draft;
        let handler = self
            .handler(kind.as_str())
            .ok_or_else(|| KindError::Unknown(kind.as_str().to_owned()))?;
        check_envelope(&actor, subject.as_ref(), reason.as_deref())?;
        let meta = EntryMeta {
            time,
            actor: &actor,
            subject: subject.as_ref(),
            reason: reason.as_deref(),
        };
        let (json, changes) = match payload {
            DraftPayload::Typed(typed) => {
                let json = typed.to_json()?;
                (json, typed.effects(&meta)?)
            }
            DraftPayload::Raw(json) => {
                let changes = handler.interpret(&meta, json.clone())?;
                (json, changes)
            }
        };
        if !json.is_object() {
            return Err(EntryError::Field {
                field: "payload",
                why: "must be a JSON object",
            }
            .into());
        }
        check_json(&json, 0)?;
        let entry = Entry {
            kind,
            time,
            actor,
            subject,
            reason,
            payload: Payload::Inline(json),
            salt,
        };
        Ok(encode_sealed(entry, changes, limits)?)
    }
}

fn meta(entry: &Entry) -> EntryMeta<'_> {
    EntryMeta {
        time: entry.time,
        actor: &entry.actor,
        subject: entry.subject.as_ref(),
        reason: entry.reason.as_deref(),
    }
}

fn check_envelope(
    actor: &Actor,
    subject: Option<&Subject>,
    reason: Option<&str>,
) -> Result<(), EntryError> {
    if let Some(session) = &actor.session {
        check_label("actor.session", session, LABEL_BYTES_MAX)?;
    }
    if let Some(subject) = subject {
        check_label("subject.type", &subject.kind, LABEL_BYTES_MAX)?;
        check_label("subject.id", &subject.id, LABEL_BYTES_MAX)?;
    }
    if let Some(reason) = reason {
        if reason.len() > REASON_BYTES_MAX {
            return Err(crate::entry::field("reason", "is too long"));
        }
        if reason.trim().is_empty() {
            return Err(crate::entry::field("reason", "is empty"));
        }
        if reason
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(crate::entry::field("reason", "holds control characters"));
        }
    }
    Ok(())
}

/// Encodes an entry, moving its payload to a blob if the entry would exceed the limit.
fn encode_sealed(
    mut entry: Entry,
    changes: Vec<Change>,
    limits: SealLimits,
) -> Result<Sealed, EntryError> {
    let entry_bytes_max = limits.entry_bytes_max.min(ENTRY_BYTES_MAX);
    let bytes = encode(&entry)?;
    if bytes.len() <= entry_bytes_max {
        let leaf = leaf_hash(&bytes);
        return Ok(Sealed {
            entry,
            bytes,
            leaf,
            blob: None,
            changes,
        });
    }
    let blob = match &entry.payload {
        Payload::Inline(payload) => crate::entry::canonical_json(payload),
        Payload::Blob { .. } => {
            return Err(crate::entry::field("payload", "is already a blob"));
        }
    };
    if blob.len() > limits.blob_bytes_max {
        return Err(EntryError::PayloadTooLarge {
            len: blob.len(),
            max: limits.blob_bytes_max,
        });
    }
    entry.payload = Payload::Blob {
        sha256: content_hash(&blob),
        bytes: blob.len() as u64,
    };
    let bytes = encode(&entry)?;
    if bytes.len() > entry_bytes_max {
        return Err(EntryError::TooLarge {
            len: bytes.len(),
            max: entry_bytes_max,
        });
    }
    let leaf = leaf_hash(&bytes);
    Ok(Sealed {
        entry,
        bytes,
        leaf,
        blob: Some(blob),
        changes,
    })
}

/// Size limits applied when sealing (part of the `[limits]` configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealLimits {
    /// Largest encoded entry (≤ 65535); larger payloads move to the blob store.
    pub entry_bytes_max: usize,
    /// Largest blob.
    pub blob_bytes_max: usize,
}

/// Why a draft could not be sealed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The envelope or the encoding.
    #[error(transparent)]
    Entry(#[from] EntryError),
    /// The kind or its payload.
    #[error(transparent)]
    Kind(#[from] KindError),
}

/// An entry ready to append: its decoded form, canonical bytes, leaf hash, the blob that holds
/// its payload where the payload was moved out, and its projection's changes (references to
/// its own index unresolved).
#[derive(Clone, Debug)]
pub struct Sealed {
    /// Decoded form.
    pub entry: Entry,
    /// Canonical bytes (the leaf's content).
    pub bytes: Vec<u8>,
    /// `SHA-256(0x00 || bytes)`.
    pub leaf: Hash,
    /// Canonical payload bytes, when stored as a blob.
    pub blob: Option<Vec<u8>>,
    /// What the entry changes in the projections.
    pub changes: Vec<Change>,
}

/// A typed payload with its type erased, carried by a [`Draft`] so that sealing projects it
/// without reading its JSON back.
trait DraftPayloadTyped: Send + fmt::Debug {
    fn to_json(&self) -> Result<Json, EntryError>;
    fn effects(&self, meta: &EntryMeta<'_>) -> Result<Vec<Change>, KindError>;
}

impl<K: EntryKind> DraftPayloadTyped for K {
    fn to_json(&self) -> Result<Json, EntryError> {
        serde_json::to_value(self).map_err(|_| EntryError::Encode)
    }

    fn effects(&self, meta: &EntryMeta<'_>) -> Result<Vec<Change>, KindError> {
        effects(self, meta)
    }
}

#[derive(Debug)]
enum DraftPayload {
    Typed(Box<dyn DraftPayloadTyped>),
    Raw(Json),
}

/// What a use case asks to record; [`Registry::seal`] turns it into an entry.
#[derive(Debug)]
pub struct Draft {
    kind: KindName,
    /// Who.
    pub actor: Actor,
    /// About whom or what.
    pub subject: Option<Subject>,
    /// Why.
    pub reason: Option<String>,
    payload: DraftPayload,
}

impl Draft {
    /// A draft of kind `K`.
    pub fn new<K: EntryKind>(actor: Actor, payload: K) -> Draft {
        Draft {
            kind: KindName::declared(K::KIND),
            actor,
            subject: None,
            reason: None,
            payload: DraftPayload::Typed(Box::new(payload)),
        }
    }

    /// A draft from a kind name and a JSON payload, interpreted by the registry when sealed
    /// (for tools and tests; use cases use [`Draft::new`]).
    pub fn raw(kind: &str, actor: Actor, payload: Json) -> Result<Draft, EntryError> {
        Ok(Draft {
            kind: KindName::parse(kind)?,
            actor,
            subject: None,
            reason: None,
            payload: DraftPayload::Raw(payload),
        })
    }

    /// With a subject.
    pub fn about(mut self, subject: Subject) -> Draft {
        self.subject = Some(subject);
        self
    }

    /// With a reason.
    pub fn because(mut self, reason: impl Into<String>) -> Draft {
        self.reason = Some(reason.into());
        self
    }

    /// The kind.
    pub fn kind(&self) -> &KindName {
        &self.kind
    }
}

/// Holds every registered kind to its declaration, for the test suites of the binaries that
/// build registries: the example survives a JSON round trip, passes its own check, and projects
/// into the declared tables (at least one change) — or, for a kind declared to project nothing,
/// makes no change. Returns one line per problem.
pub fn audit(registry: &Registry) -> Vec<String> {
    let actor = Actor::system();
    let subject = Subject {
        kind: "example".into(),
        id: "1".into(),
    };
    let meta = EntryMeta {
        time: Timestamp::EPOCH,
        actor: &actor,
        subject: Some(&subject),
        reason: Some("example reason"),
    };
    let mut problems = Vec::new();
    for (context, handler) in registry.kinds() {
        let name = handler.name();
        if !handler.example_round_trips() {
            problems.push(format!(
                "{context}: {name}'s example does not survive a JSON round trip"
            ));
        }
        let changes = handler
            .example()
            .and_then(|json| handler.interpret(&meta, json));
        match (handler.projection(), changes) {
            (_, Err(e)) => problems.push(format!("{context}: {name}'s example is refused: {e}")),
            (Projection::Into(_), Ok(changes)) if changes.is_empty() => problems.push(format!(
                "{context}: {name} declares tables but its example projects nothing"
            )),
            (Projection::Into([]), Ok(_)) => problems.push(format!(
                "{context}: {name} declares an empty table list; declare Projection::Nothing"
            )),
            (Projection::Nothing(why), Ok(_)) if why.trim().is_empty() => problems.push(format!(
                "{context}: {name} projects nothing without saying why"
            )),
            _ => {}
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::projection::{Column, TableRole, Value};
    use serde::Deserialize;

    static THINGS: TableSpec = TableSpec {
        name: "things",
        about: "test",
        columns: &[Column::entry("id"), Column::text("name")],
        key: 1,
        indexes: &[],
        role: TableRole::Plain,
    };
    static OTHERS: TableSpec = TableSpec {
        name: "others",
        about: "test",
        columns: &[Column::entry("id")],
        key: 1,
        indexes: &[],
        role: TableRole::Plain,
    };

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Good {
        name: String,
    }
    impl EntryKind for Good {
        const KIND: &'static str = "test.good/1";
        const PROJECTION: Projection = Projection::Into(&[&THINGS]);
        fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
            if self.name.is_empty() {
                return Err(Invalid {
                    field: "name",
                    why: "is empty",
                });
            }
            Ok(())
        }
        fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
            out.push(Change::upsert(
                &THINGS,
                vec![Value::THIS_ENTRY, Value::Text(self.name.clone())],
            ));
        }
        fn example() -> Self {
            Good { name: "a".into() }
        }
    }

    /// Declares a projection but its example writes nothing.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Silent {}
    impl EntryKind for Silent {
        const KIND: &'static str = "test.silent/1";
        const PROJECTION: Projection = Projection::Into(&[&THINGS]);
        fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
            Ok(())
        }
        fn project(&self, _: &EntryMeta<'_>, _: &mut Vec<Change>) {}
        fn example() -> Self {
            Silent {}
        }
    }

    /// Declares nothing but writes a row.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sneaky {}
    impl EntryKind for Sneaky {
        const KIND: &'static str = "test.sneaky/1";
        const PROJECTION: Projection = Projection::Nothing("claims to write nothing");
        fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
            Ok(())
        }
        fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
            out.push(Change::upsert(
                &THINGS,
                vec![Value::THIS_ENTRY, Value::Text("x".into())],
            ));
        }
        fn example() -> Self {
            Sneaky {}
        }
    }

    /// Writes into a table it declares, which another context owns.
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Foreign {}
    impl EntryKind for Foreign {
        const KIND: &'static str = "test.foreign/1";
        const PROJECTION: Projection = Projection::Into(&[&OTHERS]);
        fn check(&self, _: &EntryMeta<'_>) -> Result<(), Invalid> {
            Ok(())
        }
        fn project(&self, _: &EntryMeta<'_>, out: &mut Vec<Change>) {
            out.push(Change::upsert(&OTHERS, vec![Value::THIS_ENTRY]));
        }
        fn example() -> Self {
            Foreign {}
        }
    }

    struct Test(fn() -> Vec<Box<dyn KindHandler>>);
    static TEST_TABLES: &[&TableSpec] = &[&THINGS];
    impl Context for Test {
        fn name(&self) -> &'static str {
            "test"
        }
        fn tables(&self) -> &'static [&'static TableSpec] {
            TEST_TABLES
        }
        fn kinds(&self) -> Vec<Box<dyn KindHandler>> {
            (self.0)()
        }
    }

    // Shows that the audit passes a kind that keeps its declaration and names each kind that
    // does not: one that declares tables but projects nothing, one that declares nothing but
    // writes; and that registering a kind that writes another context's table is refused.
    #[test]
    fn audit_holds_kinds_to_their_declarations() {
        let good = Registry::new(&[&Test(|| vec![kind::<Good>()])]).unwrap();
        assert_eq!(audit(&good), Vec::<String>::new());
        let bad = Registry::new(&[&Test(|| vec![kind::<Silent>(), kind::<Sneaky>()])]).unwrap();
        let problems = audit(&bad);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("test.silent/1 declares tables but its example projects nothing")
        );
        assert!(problems[1].contains("test.sneaky/1's example is refused"));
        assert!(matches!(
            Registry::new(&[&Test(|| vec![kind::<Foreign>()])]),
            Err(RegistryError::ForeignTable { .. })
        ));
        assert!(matches!(
            Registry::new(&[&Test(|| vec![kind::<Good>(), kind::<Good>()])]),
            Err(RegistryError::Duplicate { .. })
        ));
    }

    // Shows sealing: a registered kind seals with its projection's changes, an unregistered
    // kind, a payload that breaks its kind's rule and one holding U+0000 are refused, and a payload too large for
    // an entry moves to a blob at exactly the limit.
    #[test]
    fn sealing_refuses_unknown_kinds_and_bad_payloads() {
        let registry = Registry::new(&[&Test(|| vec![kind::<Good>()])]).unwrap();
        let limits = SealLimits {
            entry_bytes_max: 65_535,
            blob_bytes_max: 1 << 20,
        };
        let seal = |draft: Draft| registry.seal(draft, Timestamp::EPOCH, [0; 16], limits);
        let sealed = seal(Draft::new(Actor::system(), Good { name: "n".into() })).unwrap();
        assert_eq!(sealed.changes.len(), 1);
        assert!(matches!(
            seal(Draft::raw("test.unknown/1", Actor::system(), serde_json::json!({})).unwrap()),
            Err(SealError::Kind(KindError::Unknown(_)))
        ));
        assert!(matches!(
            seal(Draft::new(
                Actor::system(),
                Good {
                    name: String::new()
                }
            )),
            Err(SealError::Kind(KindError::Invalid { .. }))
        ));
        assert!(matches!(
            seal(
                Draft::raw(
                    "test.good/1",
                    Actor::system(),
                    serde_json::json!({"nom": 1})
                )
                .unwrap()
            ),
            Err(SealError::Kind(KindError::Shape(_)))
        ));
        // No entry holds U+0000, which one backend cannot store as text.
        assert!(matches!(
            seal(Draft::new(
                Actor::system(),
                Good {
                    name: "a\0b".into()
                }
            )),
            Err(SealError::Entry(EntryError::Field { .. }))
        ));
        let base = seal(Draft::new(
            Actor::system(),
            Good {
                name: String::new() + "x",
            },
        ))
        .unwrap()
        .bytes
        .len();
        let at = SealLimits {
            entry_bytes_max: base + 99,
            blob_bytes_max: 1 << 20,
        };
        let name = |n: usize| Good {
            name: "x".repeat(n),
        };
        let fits = registry
            .seal(
                Draft::new(Actor::system(), name(100)),
                Timestamp::EPOCH,
                [0; 16],
                at,
            )
            .unwrap();
        assert!(fits.blob.is_none());
        let over = registry
            .seal(
                Draft::new(Actor::system(), name(101)),
                Timestamp::EPOCH,
                [0; 16],
                at,
            )
            .unwrap();
        let blob = over.blob.clone().unwrap();
        assert_eq!(
            over.entry.payload,
            Payload::Blob {
                sha256: content_hash(&blob),
                bytes: blob.len() as u64
            }
        );
        assert_eq!(crate::entry::decode(&over.bytes).unwrap(), over.entry);
    }
}
