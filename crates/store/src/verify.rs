//! `kiroku verify`: recompute everything from the stored entries and blobs and compare it with
//! what is stored and signed. Every leaf is rehashed and decoded, every blob rehashed, the tree
//! rebuilt, every stored tree node and every checkpoint (root and signature) checked, and the
//! projections compared with a replay. The first problem found is reported with the index of
//! the first entry it concerns. Messages name indices and tables, never content.
//!
//! Also [`rebuild_projections`], which replays the ledger into fresh projection tables.

use crate::db::{Db, EntryRow, Page, StoredCheckpoint};
use crate::{Result, Store, StoreError};
use kiroku_domain::entry::{decode_fields, Payload};
use kiroku_domain::projection::{project, Value, TABLES};
use kiroku_domain::{Entry, EntryIndex};
use kiroku_ledger::hash::content_hash;
use kiroku_ledger::{leaf_hash, Checkpoint, Frontier, Hash, Verifier, TILE_HEIGHT};
use serde_json::Value as Json;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Entries read per query.
const ENTRY_PAGE: u64 = 1024;
/// Checkpoints, nodes and projection rows read per query.
const ROW_PAGE: u64 = 10_000;

/// What went wrong, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The first entry concerned, where one can be named.
    pub index: Option<u64>,
    /// What is wrong.
    pub what: String,
}

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

fn problem(index: impl Into<Option<u64>>, what: impl Into<String>) -> Problem {
    Problem {
        index: index.into(),
        what: what.into(),
    }
}

/// Decodes an entry and resolves its payload (from the blob store where it was moved). The
/// payload is moved out of the returned entry.
fn resolve(db: &mut dyn Db, row: &EntryRow) -> Result<(Entry, Json), Problem> {
    let mut entry = decode_fields(&row.body).map_err(|e| {
        problem(
            row.idx,
            format!("entry {} is not a valid entry: {e}", row.idx),
        )
    })?;
    let payload = match std::mem::replace(&mut entry.payload, Payload::Inline(Json::Null)) {
        Payload::Inline(value) => value,
        Payload::Blob { sha256, bytes } => {
            let idx = row.idx;
            let blob = db
                .blob(&sha256)
                .map_err(|e| problem(idx, format!("reading the blob of entry {idx} failed: {e}")))?
                .ok_or_else(|| {
                    problem(idx, format!("the payload blob of entry {idx} is missing"))
                })?;
            if content_hash(&blob) != sha256 || blob.len() as u64 != bytes {
                return Err(problem(
                    idx,
                    format!("the payload blob of entry {idx} was altered"),
                ));
            }
            entry.payload = Payload::Blob { sha256, bytes };
            serde_json::from_slice(&blob)
                .map_err(|_| problem(idx, format!("the payload blob of entry {idx} is not JSON")))?
        }
    };
    Ok((entry, payload))
}

/// One entry after the order-free checks.
struct Checked {
    idx: u64,
    stored_leaf: Vec<u8>,
    leaf: Hash,
    /// What is wrong with its content, if anything.
    content: Option<Problem>,
    /// What is wrong with the projection rows it should have put, if anything.
    projection: Option<Problem>,
}

/// Threads that hash, decode and project entries while the caller's thread checks the tree.
const WORKERS: usize = 2;

type PageResult = Result<Vec<Checked>>;

/// Reads entries `0..tree_size` page by page on its own connection and deals the pages to the
/// workers in turn; stops when they hang up.
fn read_pages(
    store: &Store,
    tree_size: u64,
    workers: &[std::sync::mpsc::SyncSender<Result<Vec<EntryRow>>>],
) {
    let mut db = match store.connect() {
        Ok(db) => db,
        Err(e) => {
            if let Some(first) = workers.first() {
                let _ = first.send(Err(e));
            }
            return;
        }
    };
    let mut next = 0u64;
    for turn in 0.. {
        if next >= tree_size {
            return;
        }
        let rows = db.entries(next, ENTRY_PAGE.min(tree_size - next));
        let worker = &workers[turn % workers.len()];
        match rows {
            Ok(rows) => {
                let Some(last) = rows.last() else { return };
                next = last.idx + 1;
                if worker.send(Ok(rows)).is_err() {
                    return;
                }
            }
            Err(e) => {
                let _ = worker.send(Err(e));
                return;
            }
        }
    }
}

/// Hashes, decodes (checking blobs on its own connection) and projects each entry of the pages
/// it is dealt, compares the projection rows with the stored rows of the page's index range,
/// and passes the pages on in the same order.
fn check_pages(
    store: &Store,
    pages: std::sync::mpsc::Receiver<Result<Vec<EntryRow>>>,
    out: std::sync::mpsc::SyncSender<PageResult>,
) {
    let mut db = match store.connect() {
        Ok(db) => db,
        Err(e) => {
            let _ = out.send(Err(e));
            return;
        }
    };
    for rows in pages {
        let page = rows.and_then(|rows| check_page(db.as_mut(), rows));
        if out.send(page).is_err() {
            return;
        }
    }
}

fn check_page(db: &mut dyn Db, rows: Vec<EntryRow>) -> Result<Vec<Checked>> {
    let (Some(first), Some(last)) = (rows.first().map(|r| r.idx), rows.last().map(|r| r.idx))
    else {
        return Ok(Vec::new());
    };
    let mut expected: BTreeMap<&'static str, Vec<Vec<Value>>> = BTreeMap::new();
    let mut checked: Vec<Checked> = Vec::with_capacity(rows.len());
    for row in rows {
        let content = match resolve(db, &row) {
            Ok((entry, payload)) => match project(EntryIndex(row.idx), entry, payload) {
                Ok(changes) => {
                    for change in changes {
                        expected
                            .entry(change.table.name)
                            .or_default()
                            .push(change.row);
                    }
                    None
                }
                Err(e) => Some(problem(
                    row.idx,
                    format!("entry {} cannot be projected: {e}", row.idx),
                )),
            },
            Err(p) => Some(p),
        };
        checked.push(Checked {
            idx: row.idx,
            leaf: leaf_hash(&row.body),
            stored_leaf: row.leaf_hash,
            content,
            projection: None,
        });
    }
    let (Ok(from), Ok(to)) = (i64::try_from(first), i64::try_from(last)) else {
        return Err(StoreError::Corrupt(format!("index {last} out of range")));
    };
    for table in TABLES {
        let stored = db.rows_range(table, from, to)?;
        let want = expected.remove(table.name).unwrap_or_default();
        if let Some((index, what)) = compare_rows(table.name, &want, &stored)? {
            let position = (index - first) as usize;
            if let Some(entry) = checked.get_mut(position) {
                if entry.projection.is_none() {
                    entry.projection = Some(problem(index, what));
                }
            }
        }
    }
    Ok(checked)
}

/// The first difference between the rows the replay puts and the stored rows (both in key
/// order, keyed by entry index): the entry concerned and what is wrong.
fn compare_rows(
    name: &str,
    want: &[Vec<Value>],
    stored: &[Vec<Value>],
) -> Result<Option<(u64, String)>> {
    let key = |row: &[Value]| match row.first() {
        Some(Value::Int(k)) => Ok(*k),
        _ => Err(StoreError::Corrupt(format!("{name} has a non-integer key"))),
    };
    let (mut w, mut s) = (want.iter().peekable(), stored.iter().peekable());
    loop {
        let next_want = w.peek().map(|row| key(row)).transpose()?;
        let next_stored = s.peek().map(|row| key(row)).transpose()?;
        match (next_want, next_stored) {
            (None, None) => return Ok(None),
            (Some(a), Some(b)) if a == b => {
                if w.next() != s.next() {
                    return Ok(Some((
                        a as u64,
                        format!("projection {name} row {a} differs from the ledger's replay"),
                    )));
                }
            }
            (Some(a), None) => {
                return Ok(Some((
                    a as u64,
                    format!("projection {name} lacks the row of entry {a}"),
                )))
            }
            (Some(a), Some(b)) if a < b => {
                return Ok(Some((
                    a as u64,
                    format!("projection {name} lacks the row of entry {a}"),
                )))
            }
            (_, Some(b)) => {
                return Ok(Some((
                    b as u64,
                    format!(
                        "projection {name} holds a row for entry {b} that the ledger does not put"
                    ),
                )))
            }
        }
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
    let mut db = store.connect()?;
    let db = db.as_mut();
    let tree_size = db.latest_checkpoint()?.map_or(0, |c| c.size);

    let mut stored_nodes: HashMap<(u8, u64), Vec<u8>> = HashMap::new();
    let mut after = (0u8, -1i64);
    loop {
        let page = db.nodes_after(after, ROW_PAGE)?;
        let Some(last) = page.last() else { break };
        after = (last.0, last.1 as i64);
        for (level, idx, hash) in page {
            stored_nodes.insert((level, idx), hash);
        }
    }

    let mut report = Report {
        entries: 0,
        checkpoints: 0,
        tree_size,
        root: Hash::empty(),
        problem: None,
    };
    let mut checkpoints: VecDeque<StoredCheckpoint> = VecDeque::new();
    let mut next_checkpoint_from = 0u64;
    let mut last_checked_size = 0u64;
    let mut frontier = Frontier::new();
    let mut node_problems: Vec<Problem> = Vec::new();

    // A second thread reads the entries on its own connection and does the per-entry work that
    // needs no order (hash, decode, blob check, projection); this thread checks order, compares
    // the projection rows with the stored tables, rebuilds the tree and checks the checkpoints.
    let found = std::thread::scope(|scope| -> Result<Option<Problem>> {
        let mut inputs = Vec::with_capacity(WORKERS);
        let mut outputs = Vec::with_capacity(WORKERS);
        for _ in 0..WORKERS {
            let (to_worker, pages) = std::sync::mpsc::sync_channel(2);
            let (out, from_worker) = std::sync::mpsc::sync_channel(2);
            scope.spawn(move || check_pages(store, pages, out));
            inputs.push(to_worker);
            outputs.push(from_worker);
        }
        scope.spawn(move || read_pages(store, tree_size, &inputs));
        let mut turn = 0usize;
        let found = 'scan: loop {
            let Ok(page) = outputs[turn % WORKERS].recv() else {
                break 'scan None;
            };
            turn += 1;
            for checked in page? {
                let index = frontier.size();
                if checked.idx != index {
                    break 'scan Some(problem(
                        index,
                        format!(
                            "entry {index} is missing (the next stored entry is {})",
                            checked.idx
                        ),
                    ));
                }
                if checked.stored_leaf != checked.leaf.0 {
                    break 'scan Some(problem(
                        index,
                        format!(
                            "entry {index} was altered: its content does not match its stored hash"
                        ),
                    ));
                }
                if let Some(p) = checked.content {
                    break 'scan Some(p);
                }
                frontier.push(checked.leaf, |done| {
                    if done.height == 0 || done.height % TILE_HEIGHT != 0 {
                        return;
                    }
                    let level = done.height / TILE_HEIGHT;
                    let first = done.index << done.height;
                    match stored_nodes.remove(&(level, done.index)) {
                        Some(stored) if stored == done.hash.0 => {}
                        Some(_) => node_problems.push(problem(
                            first,
                            format!(
                                "tree node {level}/{} (entries from {first}) was altered",
                                done.index
                            ),
                        )),
                        None => node_problems.push(problem(
                            first,
                            format!(
                                "tree node {level}/{} (entries from {first}) is missing",
                                done.index
                            ),
                        )),
                    }
                });
                if let Some(p) = node_problems.first() {
                    break 'scan Some(p.clone());
                }
                // Check every checkpoint whose size this entry completes.
                loop {
                    if checkpoints.is_empty() {
                        let page = db.checkpoints(next_checkpoint_from, ROW_PAGE)?;
                        if let Some(last) = page.last() {
                            next_checkpoint_from = last.size + 1;
                        }
                        checkpoints.extend(page);
                    }
                    let Some(next) = checkpoints.front() else {
                        break;
                    };
                    if next.size > frontier.size() {
                        break;
                    }
                    if let Err(p) =
                        check_checkpoint(next, &frontier, origin, verifier, last_checked_size)
                    {
                        break 'scan Some(p);
                    }
                    last_checked_size = next.size;
                    report.checkpoints += 1;
                    checkpoints.pop_front();
                }
                // The ledger up to here is sound; now its projection rows must be stored.
                if let Some(p) = checked.projection {
                    break 'scan Some(p);
                }
            }
            report.entries = frontier.size();
            progress(report.entries, tree_size);
        };
        // Stop the reader and the workers if they are still going.
        drop(outputs);
        Ok(found)
    })?;
    report.entries = frontier.size();
    report.root = frontier.root();
    if let Some(p) = found {
        report.problem = Some(p);
        return Ok(report);
    }
    if frontier.size() < tree_size {
        let index = frontier.size();
        report.problem = Some(problem(
            index,
            format!(
                "entry {index} is missing: the signed checkpoint at size {tree_size} covers it"
            ),
        ));
        return Ok(report);
    }
    if last_checked_size < tree_size {
        report.problem = Some(problem(
            last_checked_size,
            format!(
                "the checkpoints between sizes {last_checked_size} and {tree_size} are missing"
            ),
        ));
        return Ok(report);
    }
    // What lies beyond the checked tree. An append made while this ran comes with its
    // checkpoint, so the signed size is read after everything it must cover: an entry row, tree
    // node or projection row beyond the size signed *now* was put there behind the writer's
    // back.
    let highest_entry = db.max_entry_index()?;
    let mut key_range = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let lowest = db.rows(
            table,
            Page {
                after: None,
                limit: 1,
                descending: false,
            },
        )?;
        let highest = db.rows(
            table,
            Page {
                after: None,
                limit: 1,
                descending: true,
            },
        )?;
        let key = |rows: &[Vec<Value>]| match rows.first().and_then(|row| row.first()) {
            Some(Value::Int(k)) => Some(*k),
            _ => None,
        };
        key_range.push((table.name, key(&lowest), key(&highest)));
    }
    let signed_now = db.latest_checkpoint()?.map_or(0, |c| c.size);
    if highest_entry.is_some_and(|highest| highest >= signed_now) {
        let first = db
            .entries(signed_now, 1)?
            .first()
            .map_or(signed_now, |row| row.idx);
        report.problem = Some(problem(
            first,
            format!("entry {first} is not covered by any signed checkpoint (inserted behind the writer's back)"),
        ));
        return Ok(report);
    }
    let node_end = |level: u8, idx: u64| -> Option<u64> {
        (idx.checked_add(1)?).checked_shl(u32::from(level) * u32::from(TILE_HEIGHT))
    };
    if let Some(((level, idx), _)) = stored_nodes
        .iter()
        .filter(|((level, idx), _)| {
            *level == 0
                || *level > 7
                || node_end(*level, *idx).is_none_or(|end| end <= tree_size || end > signed_now)
        })
        .min()
    {
        report.problem = Some(problem(
            None,
            format!("tree node {level}/{idx} is stored but is not part of the signed tree"),
        ));
        return Ok(report);
    }
    for (name, lowest, highest) in key_range {
        let stray = match (lowest, highest) {
            (Some(low), _) if low < 0 => Some(low),
            (_, Some(high)) if high >= signed_now as i64 => Some(high),
            _ => None,
        };
        if let Some(k) = stray {
            report.problem = Some(problem(
                None,
                format!("projection {name} holds a row for entry {k}, which the signed ledger does not have"),
            ));
            return Ok(report);
        }
    }
    Ok(report)
}

fn check_checkpoint(
    stored: &StoredCheckpoint,
    frontier: &Frontier,
    origin: &str,
    verifier: &Verifier,
    previous: u64,
) -> Result<(), Problem> {
    let size = stored.size;
    let range = || {
        if previous + 1 == size {
            format!("entry {previous}")
        } else {
            format!("entries {previous}..{}", size.saturating_sub(1))
        }
    };
    let root = frontier.root();
    let signed = Checkpoint::open(&stored.note, origin, verifier).map_err(|e| {
        problem(
            previous,
            format!("the checkpoint at size {size} does not verify: {e}"),
        )
    })?;
    if signed.size != size {
        return Err(problem(
            previous,
            format!(
                "the checkpoint stored at size {size} is signed for size {}",
                signed.size
            ),
        ));
    }
    if signed.root != root || stored.root != root.0 {
        return Err(problem(
            previous,
            format!(
                "{} do not match the signed checkpoint at size {size}: an entry was altered, removed, inserted or reordered",
                range()
            ),
        ));
    }
    Ok(())
}

/// Replays the ledger into fresh projection tables, under the append lock so no append can
/// slip between the replay and the swap, page by page so memory stays bounded. Refuses (and
/// changes nothing) if an entry does not match its stored hash: run `kiroku verify` first.
/// Returns the number of entries replayed.
pub fn rebuild_projections(store: &Store) -> Result<u64> {
    let mut db = store.connect()?;
    let db = db.as_mut();
    let (size, _) = db.begin_append()?;
    let result = (|| -> Result<u64> {
        db.clear_projections(TABLES)?;
        let mut next = 0u64;
        while next < size {
            let rows = db.entries(next, ENTRY_PAGE.min(size - next))?;
            if rows.is_empty() {
                return Err(StoreError::Corrupt(format!("entry {next} is missing")));
            }
            let mut changes = Vec::with_capacity(rows.len());
            for row in &rows {
                if row.idx != next {
                    return Err(StoreError::Corrupt(format!("entry {next} is missing")));
                }
                if row.leaf_hash != leaf_hash(&row.body).0 {
                    return Err(StoreError::Corrupt(format!(
                        "entry {next} does not match its stored hash; nothing was rebuilt (run kiroku verify)"
                    )));
                }
                let (entry, payload) = resolve(db, row).map_err(|p| StoreError::Corrupt(p.what))?;
                changes.extend(project(EntryIndex(row.idx), entry, payload)?);
                next += 1;
            }
            db.apply_projection(&changes)?;
        }
        db.commit()?;
        Ok(size)
    })();
    if result.is_err() {
        db.rollback();
    }
    result
}
