//! Demo data: synthetic operator notes, so a new user sees a living ledger. Generated here,
//! never taken from real records. Later issues add accounts, patients and records.

use crate::instance::{note_draft, Instance};
use kiroku_store::writer::AppendError;

/// The notes the demo seeds (synthetic operations records, 運用記録).
pub const DEMO_NOTES: &[&str] = &[
    "デモ: バックアップテープ5を遠隔地保管庫へ搬出 / demo: backup tape 5 moved off-site",
    "デモ: 電子カルテサーバーのOSセキュリティ更新を適用 / demo: OS security updates applied to the EMR server",
    "デモ: 年次監査計画を運用責任者が受領 / demo: annual audit plan received by the operations manager",
    "デモ: 停電訓練で参照用端末の起動を確認 / demo: downtime drill confirmed the read-only viewer starts",
    "デモ: 安全操作研修（第1回）を実施 / demo: safe-operation training session 1 held",
];

/// Appends the demo notes in one atomic request; returns how many were written.
pub fn seed(instance: &Instance) -> Result<u64, AppendError> {
    let drafts = DEMO_NOTES
        .iter()
        .map(|text| note_draft(text, "demo"))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(instance.writer().append_blocking(drafts)?.count)
}
