//! `kiroku verify`: replay the whole ledger and compare everything with what is stored and
//! signed — every leaf rehashed and decoded, every blob rehashed, every entry's kind known,
//! the tree rebuilt and every stored tile node and every checkpoint (root and signature)
//! checked, and the projections compared with the replay. The first problem is reported with
//! the entry it concerns. Messages name indices and tables, never content or keys.
//!
//! **How projections are compared without holding them.** Each stored row carries `last_entry`,
//! the entry that last put it. For each page of entries, a worker nets the page's changes and
//! reads the stored rows of the keys they touch (one range read when the keys cluster by entry,
//! else point reads). A key the page put last must hold exactly that row with that entry as
//! `last_entry` — or name a later entry, which then answers for it. A key the page deleted must
//! be gone, or re-put later. Rows under a deleted prefix put at or before the delete must be
//! gone. Each row found to be its key's final state is counted, and at the end the counts must
//! equal the tables' row counts: a row that no entry put is then found and named. A key put but
//! absent must be deleted by a later entry; those few are remembered until then. Memory holds
//! pages in flight and those pending keys, never the tables.

use crate::db::{Db, StoredCheckpoint};
use crate::replay::{self, problem, Checked, CheckedPage, DbPages, Problem, Signed, Sink, Work};
use crate::{Result, Store};
use kiroku_core::projection::{ColumnType, Key, Net, NetTable, Row, TableSpec};
use kiroku_core::query::Stored;
use kiroku_core::{EntryIndex, Registry, Value};
use kiroku_ledger::{Hash, Verifier};
use std::collections::{BTreeMap, VecDeque};

/// Tree nodes read per query.
const NODE_PAGE: u64 = 4096;

/// The outcome of a verification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Entries checked.
    pub entries: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// Size of the latest checkpoint.
    pub tree_size: u64,
    /// The recomputed root of all entries.
    pub root: Hash,
    /// The first problem, if any.
    pub problem: Option<Problem>,
}

/// A page's comparison of its projection changes with the stored tables.
pub(crate) struct Verdict {
    /// Problems by the entry they concern, in index order.
    problems: Vec<(u64, String)>,
    /// Rows found to be their key's final state, by table.
    confirmed: BTreeMap<&'static str, u64>,
    /// Keys put by this page but absent: a later entry must delete them.
    pending: Vec<(&'static TableSpec, Key, u64)>,
    /// The keys and prefixes the page touched, by table (to clear earlier pending keys).
    touched: Vec<Touched>,
}

/// The keys a page put or deleted in one table, and the prefixes it deleted.
struct Touched {
    table: &'static str,
    keys: Vec<Key>,
    prefixes: Vec<Key>,
}

impl Touched {
    fn covers(&self, key: &[Value]) -> bool {
        self.keys
            .binary_search_by(|k| k.as_slice().cmp(key))
            .is_ok()
            || self.prefixes.iter().any(|p| key.starts_with(p))
    }
}

fn describe(table: &TableSpec) -> String {
    format!("projection {}", table.name)
}

/// What a page did last to one key.
enum Touch<'a> {
    Put(&'a (Row, EntryIndex)),
    Deleted(EntryIndex),
}

/// The stored rows of `keys` (whole keys of `table`, in key order), aligned with them: one
/// range read merged with the keys when they cluster by their first column, else point reads.
/// Rows of the range that no key names come back in `others`.
fn stored_rows(
    db: &mut dyn Db,
    table: &'static TableSpec,
    keys: &[&Key],
    others: &mut Vec<Stored>,
) -> Result<Vec<Option<Stored>>> {
    let clustered = table.columns[0].ty != ColumnType::Text;
    let bounds = (
        keys.first().and_then(|k| k.first()).and_then(Value::as_int),
        keys.last().and_then(|k| k.first()).and_then(Value::as_int),
    );
    if let (true, (Some(lo), Some(hi))) = (clustered, bounds) {
        let span = u64::try_from(hi - lo).unwrap_or(u64::MAX);
        let limit = keys.len() as u64 * 4 + 64;
        if span <= limit {
            let rows = db.first_key_range(table, lo, hi, limit)?;
            if (rows.len() as u64) < limit {
                // Both sides are in key order: merge them.
                let mut found = Vec::with_capacity(keys.len());
                let mut rows = rows.into_iter().peekable();
                for key in keys {
                    while let Some(row) = rows.next_if(|r| r.row[..table.key] < key[..]) {
                        others.push(row);
                    }
                    found.push(rows.next_if(|r| r.row[..table.key] == key[..]));
                }
                others.extend(rows);
                return Ok(found);
            }
        }
    }
    let owned: Vec<Key> = keys.iter().map(|k| (*k).clone()).collect();
    db.lookup(table, &owned)
}

/// Compares one table's net changes of the page `a..=b` with the stored rows.
fn compare_table(
    db: &mut dyn Db,
    net: NetTable,
    (a, b): (u64, u64),
    verdict: &mut Verdict,
) -> Result<()> {
    let table = net.table;
    let name = describe(table);
    // Every key the page put or deleted last, in key order (a key deleted and put again
    // counts as put).
    let mut touches: Vec<(&Key, Touch<'_>)> = net
        .upserts
        .iter()
        .map(|(k, put)| (k, Touch::Put(put)))
        .chain(
            net.deletes
                .iter()
                .filter(|(k, _)| !net.upserts.contains_key(*k))
                .map(|(k, e)| (k, Touch::Deleted(*e))),
        )
        .collect();
    touches.sort_by(|x, y| x.0.cmp(y.0));
    let keys: Vec<&Key> = touches.iter().map(|(k, _)| *k).collect();
    let mut others = Vec::new();
    let stored = stored_rows(db, table, &keys, &mut others)?;
    for row in others {
        let last = row.last_entry.0;
        // A row under a prefix this page deleted is the prefix check's to name.
        let cleared = net
            .prefix_deletes
            .keys()
            .any(|prefix| row.row.starts_with(prefix));
        if (a..=b).contains(&last) && !cleared {
            verdict.problems.push((
                last,
                format!("{name} holds a row naming entry {last} as its writer, which entry {last} does not put"),
            ));
        }
    }
    for ((key, touch), found) in touches.iter().zip(stored) {
        match (touch, found) {
            (Touch::Put((_, entry)), None) => {
                verdict.pending.push((table, (*key).clone(), entry.0));
            }
            (_, Some(s)) if s.last_entry.0 > b => {}
            (Touch::Put((row, entry)), Some(s)) if s.last_entry == *entry && &s.row == row => {
                *verdict.confirmed.entry(table.name).or_default() += 1;
            }
            (Touch::Put((_, entry)), Some(s)) if s.last_entry == *entry => verdict.problems.push((
                entry.0,
                format!(
                    "{name}: the row put by entry {} differs from the ledger's replay",
                    entry.0
                ),
            )),
            // Not updated since an earlier write, or its writer altered.
            (Touch::Put((_, entry)), Some(s)) => verdict.problems.push((
                entry.0,
                format!(
                    "{name}: the row entry {} put last names entry {} as its writer",
                    entry.0, s.last_entry
                ),
            )),
            (Touch::Deleted(_), None) => {}
            (Touch::Deleted(entry), Some(_)) => verdict.problems.push((
                entry.0,
                format!("{name} still holds a row that entry {} deleted", entry.0),
            )),
        }
    }
    drop(touches);
    for (prefix, entry) in &net.prefix_deletes {
        let e = entry.0;
        let at = i64::try_from(e).unwrap_or(i64::MAX);
        if db.stale_under_prefix(table, prefix, at)?.is_some() {
            verdict
                .problems
                .push((e, format!("{name} still holds rows that entry {e} deleted")));
        }
    }
    // Only the keys go back to the calling thread; the rows are freed here.
    let mut keys: Vec<Key> = net.upserts.into_keys().collect();
    keys.extend(net.deletes.into_keys());
    keys.sort();
    keys.dedup();
    verdict.touched.push(Touched {
        table: table.name,
        keys,
        prefixes: net.prefix_deletes.into_keys().collect(),
    });
    Ok(())
}

/// The worker's part: nets the page's changes and compares them with the stored tables.
pub(crate) fn compare_page(db: &mut dyn Db, entries: &mut [Checked]) -> Result<Verdict> {
    let mut verdict = Verdict {
        problems: Vec::new(),
        confirmed: BTreeMap::new(),
        pending: Vec::new(),
        touched: Vec::new(),
    };
    let (Some(a), Some(b)) = (
        entries.first().map(|c| c.idx),
        entries.last().map(|c| c.idx),
    ) else {
        return Ok(verdict);
    };
    let mut net = Net::new();
    for checked in entries.iter_mut() {
        let index = EntryIndex(checked.idx);
        for change in std::mem::take(&mut checked.changes) {
            net.add(change, index);
        }
    }
    for table in net.into_tables() {
        compare_table(db, table, (a, b), &mut verdict)?;
    }
    verdict.problems.sort_by_key(|(e, _)| *e);
    Ok(verdict)
}

/// Stored tile nodes of one level, read ahead in pages as the replay completes them in order.
struct NodeCursor {
    level: u8,
    buffer: VecDeque<(u64, Vec<u8>)>,
    next_from: u64,
    exhausted: bool,
}

impl NodeCursor {
    fn check(&mut self, db: &mut dyn Db, index: u64, hash: Hash) -> Result<Option<Problem>> {
        let level = self.level;
        let first = index << (u32::from(level) * u32::from(kiroku_ledger::TILE_HEIGHT));
        loop {
            if self.buffer.is_empty() && !self.exhausted {
                let page = db.node_rows(level, self.next_from, NODE_PAGE)?;
                self.exhausted = (page.len() as u64) < NODE_PAGE;
                if let Some((last, _)) = page.last() {
                    self.next_from = last + 1;
                }
                self.buffer.extend(page);
            }
            match self.buffer.front() {
                Some((idx, _)) if *idx < index => {
                    self.buffer.pop_front();
                }
                Some((idx, stored)) if *idx == index => {
                    let ok = stored[..] == hash.0[..];
                    self.buffer.pop_front();
                    return Ok((!ok).then(|| {
                        problem(
                            first,
                            format!("tree node {level}/{index} (entries from {first}) was altered"),
                        )
                    }));
                }
                _ => {
                    return Ok(Some(problem(
                        first,
                        format!("tree node {level}/{index} (entries from {first}) is missing"),
                    )))
                }
            }
        }
    }
}

struct VerifySink<'a> {
    db: &'a mut dyn Db,
    cursors: Vec<NodeCursor>,
    /// The current page's problems, by entry.
    problems: VecDeque<(u64, String)>,
    confirmed: BTreeMap<&'static str, u64>,
    pending: BTreeMap<(&'static str, Key), (u64, &'static TableSpec)>,
}

impl Sink for VerifySink<'_> {
    fn node(&mut self, level: u8, index: u64, hash: Hash) -> Result<Option<Problem>> {
        match self.cursors.get_mut(usize::from(level).wrapping_sub(1)) {
            Some(cursor) => cursor.check(self.db, index, hash),
            None => Ok(None),
        }
    }

    fn entry_done(&mut self, index: u64) -> Option<Problem> {
        while let Some((e, _)) = self.problems.front() {
            if *e < index {
                self.problems.pop_front();
            } else {
                break;
            }
        }
        match self.problems.front() {
            Some((e, what)) if *e == index => Some(problem(index, what.clone())),
            _ => None,
        }
    }

    fn begin(&mut self, page: &mut CheckedPage) {
        let Some(verdict) = page.verdict.take() else {
            self.problems.clear();
            return;
        };
        if !self.pending.is_empty() {
            let touched = &verdict.touched;
            self.pending.retain(|(table, key), _| {
                !touched.iter().any(|t| t.table == *table && t.covers(key))
            });
        }
        for (table, key, entry) in verdict.pending {
            self.pending.insert((table.name, key), (entry, table));
        }
        for (table, n) in verdict.confirmed {
            *self.confirmed.entry(table).or_default() += n;
        }
        self.problems = verdict.problems.into();
    }

    fn page(&mut self, _page: CheckedPage) -> Result<()> {
        Ok(())
    }
}

/// Verifies the whole ledger up to the latest checkpoint at the start (entries appended while
/// it runs are left to the next run). `progress(done, total)` is called after each page.
pub fn verify(
    store: &Store,
    origin: &str,
    verifier: &Verifier,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report> {
    let mut db = store.connect_scan()?;
    let db = db.as_mut();
    let tree_size = db.latest_checkpoint()?.map_or(0, |c| c.size);
    let registry = store.registry();
    let source = Box::new(DbPages::new(store.connect_scan()?, tree_size));
    let open = || store.connect_scan().map(Some);
    let mut sink = VerifySink {
        db,
        cursors: (1..=7)
            .map(|level| NodeCursor {
                level,
                buffer: VecDeque::new(),
                next_from: 0,
                exhausted: false,
            })
            .collect(),
        problems: VecDeque::new(),
        confirmed: BTreeMap::new(),
        pending: BTreeMap::new(),
    };
    let mut replayed = replay::run(
        registry,
        source,
        &open,
        Work::Compare,
        Some(Signed { origin, verifier }),
        &mut sink,
        &mut |done| progress(done, tree_size),
    )?;
    let mut report = Report {
        entries: replayed.entries,
        checkpoints: replayed.checkpoints,
        tree_size,
        root: replayed.root,
        problem: replayed.problem.take(),
    };
    if report.problem.is_none() {
        report.problem = finish(&mut sink, registry, &replayed, tree_size)?;
    }
    Ok(report)
}

/// The checks that need the whole replay: coverage by checkpoints, rows and nodes beyond the
/// signed tree, keys put and never found, and the row counts.
fn finish(
    sink: &mut VerifySink<'_>,
    registry: &Registry,
    replayed: &replay::Replayed,
    tree_size: u64,
) -> Result<Option<Problem>> {
    let db = &mut *sink.db;
    if replayed.entries < tree_size {
        let index = replayed.entries;
        return Ok(Some(problem(
            index,
            format!(
                "entry {index} is missing: the signed checkpoint at size {tree_size} covers it"
            ),
        )));
    }
    if replayed.last_checkpoint < tree_size {
        let last = replayed.last_checkpoint;
        return Ok(Some(problem(
            last,
            format!("the checkpoints between sizes {last} and {tree_size} are missing"),
        )));
    }
    // What lies beyond the checked tree. An append made while this ran comes with its
    // checkpoint, so the signed size is read after everything else: an entry row, tree node or
    // projection row beyond the size signed *now* was put there behind the writer's back.
    let signed_now = db
        .latest_checkpoint()?
        .map_or(0, |c: StoredCheckpoint| c.size);
    if let Some((index, what)) = db.planted_beyond(signed_now)? {
        return Ok(Some(problem(
            index,
            format!("{what}: no signed checkpoint covers it (put there behind the writer's back)"),
        )));
    }
    if let Some((level, idx)) = db.odd_node()? {
        return Ok(Some(problem(
            None,
            format!("tree node {level}/{idx} is stored but is not part of the signed tree"),
        )));
    }
    if let Some(((table, _), (entry, _))) = sink.pending.iter().min_by_key(|(_, (e, _))| *e) {
        return Ok(Some(problem(
            *entry,
            format!("projection {table} lacks a row that entry {entry} put"),
        )));
    }
    let from = i64::try_from(signed_now).unwrap_or(i64::MAX);
    for table in registry.tables() {
        if let Some(row) = db.put_from(table, from)? {
            let last = row.last_entry;
            return Ok(Some(problem(
                None,
                format!("projection {} holds a row naming entry {last}, which the signed ledger does not have", table.name),
            )));
        }
    }
    // Counts are exact only if nothing was appended since the start.
    if signed_now != tree_size {
        return Ok(None);
    }
    for table in registry.tables() {
        let stored = db.count(table)?;
        let confirmed = sink.confirmed.get(table.name).copied().unwrap_or(0);
        if stored != confirmed {
            return Ok(Some(unexplained_row(db, registry, table)?));
        }
    }
    Ok(None)
}

/// Finds a row that no entry put: scans the table and re-reads, for each row, the entry it
/// names as its writer. Runs only when the counts disagree, so only on a damaged ledger.
fn unexplained_row(
    db: &mut dyn Db,
    registry: &Registry,
    table: &'static TableSpec,
) -> Result<Problem> {
    let mut after: Option<Key> = None;
    loop {
        let rows = db.scan(table, after.as_ref(), 1024)?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.row[..table.key].to_vec());
        for row in &rows {
            let e = row.last_entry.0;
            if !put_by(db, registry, table, &row.row, e)? {
                return Ok(problem(
                    e,
                    format!(
                        "projection {} holds a row naming entry {e} as its writer, which entry {e} does not put",
                        table.name
                    ),
                ));
            }
        }
    }
    Ok(problem(
        None,
        format!(
            "projection {} holds more or fewer rows than the ledger puts",
            table.name
        ),
    ))
}

/// Does entry `e` put exactly `row` into `table`?
fn put_by(
    db: &mut dyn Db,
    registry: &Registry,
    table: &TableSpec,
    row: &Row,
    e: u64,
) -> Result<bool> {
    let Some(entry) = db.entries(e, 1)?.into_iter().next().filter(|r| r.idx == e) else {
        return Ok(false);
    };
    let Ok(mut decoded) = kiroku_core::entry::decode_fields(&entry.body) else {
        return Ok(false);
    };
    let payload = match std::mem::replace(
        &mut decoded.payload,
        kiroku_core::Payload::Inline(serde_json::Value::Null),
    ) {
        kiroku_core::Payload::Inline(v) => v,
        kiroku_core::Payload::Blob { sha256, .. } => match db.blob(&sha256)? {
            Some(blob) => match serde_json::from_slice(&blob) {
                Ok(v) => v,
                Err(_) => return Ok(false),
            },
            None => return Ok(false),
        },
    };
    let Ok(changes) = registry.interpret(&decoded, payload) else {
        return Ok(false);
    };
    Ok(changes.into_iter().any(|mut change| {
        change.resolve(EntryIndex(e)).is_ok()
            && matches!(&change, kiroku_core::Change::Upsert { table: t, row: r } if t.name == table.name && r == row)
    }))
}
