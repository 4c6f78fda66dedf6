//! Progress bars for long work (verify, export, import, migrate, benchmarks), drawn with
//! `indicatif` on standard error, and only when standard error is a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal as _;

/// A progress bar for work counted in entries.
pub struct Bar(ProgressBar);

impl Bar {
    /// A bar labelled `label`; hidden when standard error is not a terminal.
    pub fn new(label: &'static str) -> Bar {
        Bar::counting(label, "entries")
    }

    /// A bar labelled `label` for work counted in `unit`.
    pub fn counting(label: &'static str, unit: &str) -> Bar {
        let bar = ProgressBar::with_draw_target(
            None,
            if std::io::stderr().is_terminal() {
                ProgressDrawTarget::stderr()
            } else {
                ProgressDrawTarget::hidden()
            },
        );
        let style = ProgressStyle::with_template(
            &format!("{{prefix}} [{{bar:30}}] {{percent:>3}}% {{human_pos}}/{{human_len}} {unit}, {{per_sec}} ({{eta}} left)"),
        )
        .map(|s| s.progress_chars("#>."))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_prefix(label);
        Bar(bar)
    }

    /// Shows `done` of `total`.
    pub fn update(&mut self, done: u64, total: u64) {
        self.0.set_length(total);
        self.0.set_position(done);
    }

    /// Clears the bar.
    pub fn finish(&mut self) {
        self.0.finish_and_clear();
    }
}
