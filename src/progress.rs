//! The progress line: while facts are gathered, one line on standard error
//! saying how many AWS calls and probes are still outstanding, erased
//! before the report is printed.
//!
//! Two parts, so the gather layer knows nothing of terminals:
//! - [`Activity`], a cheap cloneable counter. Whoever starts a call takes a
//!   [`Pending`] guard (`let _pending = activity.call();`) and holds it
//!   until the call ends; dropping it (the call finished, failed, or its
//!   future was dropped at the deadline) marks it done.
//! - [`Progress`], a thread that redraws the line every 100 ms from the
//!   counter and erases it on [`Progress::finish`].
//!
//! When it shows: only when standard error is a terminal and `TERM` is not
//! `dumb`. `NO_COLOR` does not hide it: the line has no colour, and it is
//! drawn and erased with carriage returns and spaces only, never an escape
//! sequence, so it is safe on any terminal that has a cursor. A run that
//! ends within the first tick shows nothing at all.

use std::io::{self, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::render::text;
use crate::render::{Env, Terminal};

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(100);

#[derive(Debug, Default)]
struct Counts {
    calls_started: AtomicUsize,
    calls_done: AtomicUsize,
    probes_started: AtomicUsize,
    probes_done: AtomicUsize,
}

/// Counts the work in flight; clones share one count.
#[derive(Debug, Clone, Default)]
pub struct Activity(Arc<Counts>);

/// One call or probe in flight: done when dropped.
#[must_use = "the work counts as outstanding only while this guard lives"]
#[derive(Debug)]
pub struct Pending {
    counts: Arc<Counts>,
    probe: bool,
}

impl Drop for Pending {
    fn drop(&mut self) {
        let done = if self.probe {
            &self.counts.probes_done
        } else {
            &self.counts.calls_done
        };
        done.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the line shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub calls_open: usize,
    pub calls_total: usize,
    pub probes_open: usize,
    pub probes_total: usize,
}

impl Activity {
    /// An AWS call (or IMDS request) starts now.
    #[allow(dead_code)] // until gather's deadline wrapper counts its calls
    pub fn call(&self) -> Pending {
        self.0.calls_started.fetch_add(1, Ordering::Relaxed);
        Pending {
            counts: Arc::clone(&self.0),
            probe: false,
        }
    }

    /// A DNS, TCP or MySQL probe starts now.
    pub fn probe(&self) -> Pending {
        self.0.probes_started.fetch_add(1, Ordering::Relaxed);
        Pending {
            counts: Arc::clone(&self.0),
            probe: true,
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        let c = &self.0;
        // Read "done" first: a call that ends between the two reads is then
        // counted as still open, never as a negative count.
        let calls_done = c.calls_done.load(Ordering::Relaxed);
        let probes_done = c.probes_done.load(Ordering::Relaxed);
        let calls_total = c.calls_started.load(Ordering::Relaxed);
        let probes_total = c.probes_started.load(Ordering::Relaxed);
        Snapshot {
            calls_open: calls_total.saturating_sub(calls_done),
            calls_total,
            probes_open: probes_total.saturating_sub(probes_done),
            probes_total,
        }
    }
}

/// Is the progress line shown on this stream?
pub fn shown(env: &Env) -> bool {
    env.is_terminal && !env.is_dumb()
}

/// The columns the line may take: the terminal's own width even below the
/// report's narrowest layout (a line wider than the terminal wraps, and
/// `\r` then leaves its first half on screen at every redraw).
fn width_of(env: &Env) -> usize {
    env.terminal_width
        .filter(|&w| w > 0)
        .map(usize::from)
        .unwrap_or_else(|| Terminal::decide(env).width)
}

/// The line for a snapshot, at most `width - 1` columns (a line that
/// reaches the last column makes some terminals wrap, and `\r` would then
/// erase only its second half).
pub fn line(s: Snapshot, elapsed: Duration, timeout: Duration, width: usize) -> String {
    let mut line = String::from("gathering facts");
    if s.calls_total > 0 || s.probes_total > 0 {
        line.push_str(&format!(
            ": {} of {} AWS calls outstanding",
            s.calls_open, s.calls_total
        ));
        if s.probes_total > 0 {
            line.push_str(&format!(", {} of {} probes", s.probes_open, s.probes_total));
        }
    } else {
        line.push('…');
    }
    line.push_str(&format!(
        " · {:.1}s (at most {}s)",
        elapsed.as_secs_f64(),
        timeout.as_secs_f64().ceil()
    ));
    text::capped(&line, width.saturating_sub(1).max(1)).into_owned()
}

/// The line on screen while facts are gathered; nothing when not shown.
pub struct Progress {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// Start the line on standard error, if it is shown there.
    pub fn start(activity: &Activity, timeout: Duration) -> Self {
        let env = Env::of_stderr();
        if !shown(&env) {
            return Progress {
                stop: None,
                thread: None,
            };
        }
        Self::start_on(
            Box::new(io::stderr()),
            activity.clone(),
            timeout,
            width_of(&env),
        )
    }

    /// Draw on `out` until finished.
    fn start_on(
        mut out: Box<dyn Write + Send>,
        activity: Activity,
        timeout: Duration,
        width: usize,
    ) -> Self {
        let (stop, stopped) = mpsc::channel::<()>();
        let started = Instant::now();
        let thread = thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let mut drawn: usize = 0;
                // The first tick passes before anything is drawn; the loop
                // ends when `finish` (or a drop) closes the channel.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    let line = line(activity.snapshot(), started.elapsed(), timeout, width);
                    let shown = text::width(&line);
                    let pad = " ".repeat(drawn.saturating_sub(shown));
                    // A failed write to stderr only loses the progress line.
                    let _ = write!(out, "\r{line}{pad}").and_then(|_| out.flush());
                    drawn = shown;
                }
                if drawn > 0 {
                    let _ = write!(out, "\r{}\r", " ".repeat(drawn)).and_then(|_| out.flush());
                }
            });
        match thread {
            Ok(thread) => Progress {
                stop: Some(stop),
                thread: Some(thread),
            },
            // No thread, no progress line: the report matters, not this.
            Err(_) => Progress {
                stop: None,
                thread: None,
            },
        }
    }

    /// Stop drawing and erase the line; returns once it is erased.
    pub fn finish(mut self) {
        self.stop_and_erase();
    }

    fn stop_and_erase(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Progress {
    /// An early return or a panic must not leave the line on screen.
    fn drop(&mut self) {
        self.stop_and_erase();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn pending_guards_count_open_and_total_work() {
        let activity = Activity::default();
        let a = activity.call();
        let b = activity.call();
        let p = activity.probe();
        let shared = activity.clone();
        assert_eq!(
            shared.snapshot(),
            Snapshot {
                calls_open: 2,
                calls_total: 2,
                probes_open: 1,
                probes_total: 1
            }
        );
        drop(a);
        // A guard moved to another thread (a spawned task) counts the same.
        thread::spawn(move || drop(b)).join().unwrap();
        drop(p);
        let s = activity.snapshot();
        assert_eq!((s.calls_open, s.calls_total), (0, 2));
        assert_eq!((s.probes_open, s.probes_total), (0, 1));
    }

    #[test]
    fn the_line_says_what_is_outstanding_and_fits() {
        let s = Snapshot {
            calls_open: 3,
            calls_total: 14,
            probes_open: 1,
            probes_total: 4,
        };
        let l = line(s, Duration::from_millis(1234), Duration::from_secs(10), 200);
        assert_eq!(
            l,
            "gathering facts: 3 of 14 AWS calls outstanding, 1 of 4 probes · 1.2s (at most 10s)"
        );
        let idle = line(
            Snapshot::default(),
            Duration::ZERO,
            Duration::from_secs(10),
            80,
        );
        assert_eq!(idle, "gathering facts… · 0.0s (at most 10s)");
        for width in [1, 20, 40] {
            let l = line(s, Duration::ZERO, Duration::from_secs(10), width);
            assert!(text::width(&l) < width.max(2), "{width}: {l}");
        }
    }

    #[test]
    fn the_line_fits_a_terminal_narrower_than_the_report_layout() {
        let tty = |w| Env {
            is_terminal: true,
            terminal_width: Some(w),
            term: Some("xterm".into()),
            ..Env::default()
        };
        assert_eq!(width_of(&tty(12)), 12);
        assert_eq!(width_of(&tty(120)), 120);
        assert_eq!(width_of(&tty(0)), Terminal::decide(&tty(0)).width);
        let l = line(
            Snapshot::default(),
            Duration::ZERO,
            Duration::from_secs(10),
            width_of(&tty(12)),
        );
        assert!(text::width(&l) < 12, "{l}");
    }

    #[test]
    fn shown_on_a_terminal_unless_dumb() {
        let tty = Env {
            is_terminal: true,
            term: Some("xterm".into()),
            ..Env::default()
        };
        assert!(shown(&tty));
        assert!(shown(&Env {
            no_color: Some("1".into()),
            ..tty.clone()
        }));
        assert!(!shown(&Env {
            term: Some("dumb".into()),
            ..tty.clone()
        }));
        assert!(!shown(&Env::default()), "not a terminal");
    }

    /// A writer the test can read while the thread holds it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_line_is_drawn_while_work_is_open_and_erased_at_the_end() {
        let screen = Shared::default();
        let activity = Activity::default();
        let pending = activity.call();
        let _other = activity.call();
        let progress = Progress::start_on(
            Box::new(screen.clone()),
            activity.clone(),
            Duration::from_secs(10),
            80,
        );
        thread::sleep(TICK * 3);
        drop(pending);
        thread::sleep(TICK * 2);
        let started = Instant::now();
        progress.finish();
        assert!(started.elapsed() < TICK * 2, "finish returns at once");
        let text = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
        assert!(text.contains("2 of 2 AWS calls outstanding"), "{text:?}");
        assert!(text.contains("1 of 2 AWS calls outstanding"), "{text:?}");
        assert!(!text.contains('\x1b'), "no escape sequence: {text:?}");
        // Erased: the last thing written is a blank line the width of the
        // last one drawn, between carriage returns.
        let last = text.rsplit('\r').nth(1).unwrap();
        assert!(!last.is_empty() && last.trim().is_empty(), "{text:?}");
        assert!(text.ends_with('\r'));
    }

    #[test]
    fn a_quick_run_draws_nothing() {
        let screen = Shared::default();
        let progress = Progress::start_on(
            Box::new(screen.clone()),
            Activity::default(),
            Duration::from_secs(10),
            80,
        );
        progress.finish();
        assert!(screen.0.lock().unwrap().is_empty());
    }
}
