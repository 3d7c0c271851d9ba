//! The ingest progress bar: drawn on standard error when it is a terminal, from the counters the
//! ingest stage updates ([`borderflow_pipeline::ingest::Progress`]). Under cron or with
//! `--log-format json` nothing is drawn.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use borderflow_pipeline::ingest::Progress;
use indicatif::{HumanCount, ProgressBar, ProgressStyle};

/// Runs `work` with a progress record, drawing a bar from it when `show` and standard error is
/// a terminal. The bar is cleared when `work` returns, so the summary that follows stands alone.
pub fn with_ingest_bar<T>(show: bool, work: impl FnOnce(&Progress) -> T) -> T {
    let progress = Progress::default();
    if !show || !std::io::stderr().is_terminal() {
        return work(&progress);
    }
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| draw(&progress, &done));
        let out = work(&progress);
        done.store(true, Ordering::Relaxed);
        out
    })
}

fn draw(p: &Progress, done: &AtomicBool) {
    let style = ProgressStyle::with_template(
        "ingest [{bar:25}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {msg}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    let mut bar: Option<ProgressBar> = None;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        // Drawn once the input's size is known (after the files are found and checked).
        let total = p.bytes_total.load(Ordering::Relaxed);
        if total == 0 {
            continue;
        }
        let bar = bar.get_or_insert_with(|| ProgressBar::new(total).with_style(style.clone()));
        bar.set_position(p.bytes_read.load(Ordering::Relaxed));
        let rows = HumanCount(p.rows.load(Ordering::Relaxed));
        bar.set_message(if p.writing.load(Ordering::Relaxed) {
            format!("{rows} rows; writing dates")
        } else {
            format!("{rows} rows")
        });
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
}
