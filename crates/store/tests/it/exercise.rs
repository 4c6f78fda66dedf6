//! A context for tests only: kinds that upsert, delete and delete by prefix rows of a
//! composite-key table, extend streams, take and release claims, refer to the entry before them
//! in their request, and write nothing at all.

use kiroku_core::projection::{Column, TableRole, TableSpec, Value};
use kiroku_core::{
    kind, Change, Context, EntryKind, EntryMeta, Invalid, KindHandler, Projection, Registry,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub static ROWS: TableSpec = TableSpec {
    name: "ex_rows",
    about: "rows with a composite key",
    columns: &[
        Column::int("a"),
        Column::text("b"),
        Column::text("v").nullable(),
    ],
    key: 2,
    indexes: &[&["v", "a"]],
    role: TableRole::Plain,
};
pub static STREAMS: TableSpec = TableSpec {
    name: "ex_streams",
    about: "streams",
    columns: &[
        Column::text("id"),
        Column::int("version"),
        Column::entry("by"),
    ],
    key: 1,
    indexes: &[],
    role: TableRole::Stream { version: "version" },
};
pub static CLAIMS: TableSpec = TableSpec {
    name: "ex_claims",
    about: "claims",
    columns: &[Column::text("name"), Column::text("owner")],
    key: 1,
    indexes: &[],
    role: TableRole::Claims { owner: "owner" },
};
pub static LINKS: TableSpec = TableSpec {
    name: "ex_links",
    about: "links to the previous entry of a request",
    columns: &[Column::entry("entry"), Column::entry("previous")],
    key: 1,
    indexes: &[],
    role: TableRole::Plain,
};

fn ok(_: &EntryMeta<'_>) -> Result<(), Invalid> {
    Ok(())
}

macro_rules! exercise_kind {
    ($ty:ident, $name:literal, $projection:expr, |$s:ident, $out:ident| $body:block, $example:expr) => {
        impl EntryKind for $ty {
            const KIND: &'static str = $name;
            const PROJECTION: Projection = $projection;
            fn check(&self, meta: &EntryMeta<'_>) -> Result<(), Invalid> {
                ok(meta)
            }
            fn project(&self, _: &EntryMeta<'_>, $out: &mut Vec<Change>) {
                let $s = self;
                $body
            }
            fn example() -> Self {
                $example
            }
        }
    };
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Put {
    pub a: i64,
    pub b: String,
    pub v: Option<String>,
}
exercise_kind!(
    Put,
    "ex.put/1",
    Projection::Into(&[&ROWS]),
    |s, out| {
        out.push(Change::upsert(
            &ROWS,
            vec![
                Value::Int(s.a),
                Value::Text(s.b.clone()),
                s.v.clone().map_or(Value::Null, Value::Text),
            ],
        ));
    },
    Put {
        a: 1,
        b: "x".into(),
        v: None
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delete {
    pub a: i64,
    pub b: String,
}
exercise_kind!(
    Delete,
    "ex.delete/1",
    Projection::Into(&[&ROWS]),
    |s, out| {
        out.push(Change::delete(
            &ROWS,
            vec![Value::Int(s.a), Value::Text(s.b.clone())],
        ));
    },
    Delete {
        a: 1,
        b: "x".into()
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clear {
    pub a: i64,
}
exercise_kind!(
    Clear,
    "ex.clear/1",
    Projection::Into(&[&ROWS]),
    |s, out| {
        out.push(Change::delete_prefix(&ROWS, vec![Value::Int(s.a)]));
    },
    Clear { a: 1 }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Bump {
    pub id: String,
    pub version: u64,
}
exercise_kind!(
    Bump,
    "ex.bump/1",
    Projection::Into(&[&STREAMS]),
    |s, out| {
        out.push(Change::upsert(
            &STREAMS,
            vec![
                Value::Text(s.id.clone()),
                Value::Int(s.version as i64),
                Value::THIS_ENTRY,
            ],
        ));
    },
    Bump {
        id: "s".into(),
        version: 1
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub name: String,
    pub owner: String,
}
exercise_kind!(
    Claim,
    "ex.claim/1",
    Projection::Into(&[&CLAIMS]),
    |s, out| {
        out.push(Change::upsert(
            &CLAIMS,
            vec![Value::Text(s.name.clone()), Value::Text(s.owner.clone())],
        ));
    },
    Claim {
        name: "n".into(),
        owner: "o".into()
    }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Release {
    pub name: String,
}
exercise_kind!(
    Release,
    "ex.release/1",
    Projection::Into(&[&CLAIMS]),
    |s, out| {
        out.push(Change::delete(&CLAIMS, vec![Value::Text(s.name.clone())]));
    },
    Release { name: "n".into() }
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Link {}
exercise_kind!(
    Link,
    "ex.link/1",
    Projection::Into(&[&LINKS]),
    |_s, out| {
        out.push(Change::upsert(
            &LINKS,
            vec![Value::THIS_ENTRY, Value::Entry(-1)],
        ));
    },
    Link {}
);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub text: String,
}
exercise_kind!(
    Note,
    "ex.note/1",
    Projection::Nothing("a note projects nothing"),
    |_s, _out| {},
    Note { text: "n".into() }
);

pub struct Exercise {
    /// Leave `ex.note/1` out (to verify a ledger with a kind nobody knows).
    pub without_note: bool,
}

static TABLES: &[&TableSpec] = &[&ROWS, &STREAMS, &CLAIMS, &LINKS];

impl Context for Exercise {
    fn name(&self) -> &'static str {
        "exercise"
    }
    fn tables(&self) -> &'static [&'static TableSpec] {
        TABLES
    }
    fn kinds(&self) -> Vec<Box<dyn KindHandler>> {
        let mut kinds = vec![
            kind::<Put>(),
            kind::<Delete>(),
            kind::<Clear>(),
            kind::<Bump>(),
            kind::<Claim>(),
            kind::<Release>(),
            kind::<Link>(),
        ];
        if !self.without_note {
            kinds.push(kind::<Note>());
        }
        kinds
    }
}

pub fn registry() -> Arc<Registry> {
    Arc::new(
        Registry::new(&[&Exercise {
            without_note: false,
        }])
        .unwrap(),
    )
}

// Shows that the test context keeps its own declarations (so the tests below exercise what
// they claim to).
#[test]
fn the_exercise_context_keeps_its_declarations() {
    assert_eq!(
        kiroku_core::context::audit(&registry()),
        Vec::<String>::new()
    );
}
