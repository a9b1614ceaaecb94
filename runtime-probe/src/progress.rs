//! A progress bar that appears only once a run has taken more than a second, and only on a
//! terminal: short runs and logs stay clean.

use std::cell::Cell;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

const SHOW_AFTER: Duration = Duration::from_secs(1);

pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: Cell<bool>,
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

impl Progress {
    pub fn new() -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} steps ({elapsed})")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        Self { bar, started: Instant::now(), shown: Cell::new(false) }
    }

    /// Sets the number of decode steps the whole run will make.
    pub fn start(&self, total_steps: u64) {
        self.bar.set_length(total_steps);
    }

    pub fn phase(&self, message: &'static str) {
        self.bar.set_message(message);
    }

    pub fn inc(&self) {
        self.bar.inc(1);
        if !self.shown.get() && self.started.elapsed() > SHOW_AFTER {
            // indicatif's stderr target draws nothing when stderr is not a terminal.
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown.set(true);
        }
    }

    /// Prints a line above the bar (or plainly when it is hidden).
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
