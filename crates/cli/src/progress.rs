//! A progress bar on standard error, drawn only when standard error is a terminal.

use std::io::{IsTerminal as _, Write as _};
use std::time::Instant;

/// A progress bar for long work.
pub struct Bar {
    label: &'static str,
    enabled: bool,
    started: Instant,
    last_drawn: Option<Instant>,
}

impl Bar {
    /// A bar labelled `label`; silent when standard error is not a terminal.
    pub fn new(label: &'static str) -> Bar {
        Bar {
            label,
            enabled: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_drawn: None,
        }
    }

    /// Redraws (at most ten times a second).
    pub fn update(&mut self, done: u64, total: u64) {
        if !self.enabled
            || self
                .last_drawn
                .is_some_and(|t| t.elapsed().as_millis() < 100)
        {
            return;
        }
        self.last_drawn = Some(Instant::now());
        let fraction = if total == 0 {
            1.0
        } else {
            done as f64 / total as f64
        };
        let filled = (fraction * 30.0).round().clamp(0.0, 30.0) as usize;
        let rate = done as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r{} [{}{}] {:>3.0}% {done}/{total} entries, {rate:.0}/s ",
            self.label,
            "#".repeat(filled),
            ".".repeat(30 - filled),
            fraction * 100.0
        );
        let _ = std::io::stderr().flush();
    }

    /// Clears the bar's line.
    pub fn finish(&mut self) {
        if self.enabled && self.last_drawn.is_some() {
            eprint!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
        }
    }
}
