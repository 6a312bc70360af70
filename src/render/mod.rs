//! Rendering: format a [`Report`](crate::report::Report), nothing else.
//!
//! Both renderers write to `&mut dyn Write` and read no global state: the
//! caller decides colour and width once ([`Terminal::for_stdout`]) and passes
//! them down, so tests render any layout into a buffer.

pub mod human;
mod json;
pub mod text;

use std::ffi::OsString;
use std::io::{self, IsTerminal};

pub use json::json;

/// The width used when standard output is not a terminal (a file, a pipe, a
/// ticket): wide enough for the table, narrow enough for a log viewer.
pub const FIXED_WIDTH: usize = 140;

/// Narrower than this, nothing is laid out to fit: lines overflow and the
/// terminal soft-wraps them.
const MIN_WIDTH: usize = 20;

/// How the human report is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Terminal {
    /// ANSI colour and bold.
    pub colour: bool,
    /// Columns to fit in.
    pub width: usize,
}

/// What the decision reads from the process, gathered in one place so the
/// decision itself is a pure function.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// The stream is a terminal.
    pub is_terminal: bool,
    /// The terminal's width in columns, when it tells.
    pub terminal_width: Option<u16>,
    /// `NO_COLOR`.
    pub no_color: Option<OsString>,
    /// `TERM`.
    pub term: Option<OsString>,
    /// `COLUMNS`.
    pub columns: Option<OsString>,
}

impl Env {
    /// Read the environment for standard output.
    pub fn of_stdout() -> Self {
        let out = io::stdout();
        Env {
            is_terminal: out.is_terminal(),
            terminal_width: terminal_size::terminal_size_of(&out).map(|(w, _)| w.0),
            ..Env::of_process()
        }
    }

    /// Read the environment for standard error (the progress line).
    pub fn of_stderr() -> Self {
        let err = io::stderr();
        Env {
            is_terminal: err.is_terminal(),
            terminal_width: terminal_size::terminal_size_of(&err).map(|(w, _)| w.0),
            ..Env::of_process()
        }
    }

    fn of_process() -> Self {
        Env {
            is_terminal: false,
            terminal_width: None,
            no_color: std::env::var_os("NO_COLOR"),
            term: std::env::var_os("TERM"),
            columns: std::env::var_os("COLUMNS"),
        }
    }

    /// `TERM=dumb`: a terminal that cannot move the cursor or colour text
    /// (Emacs shell buffers, some CI log viewers).
    pub fn is_dumb(&self) -> bool {
        self.term.as_deref().is_some_and(|t| t == "dumb")
    }

    /// `NO_COLOR` set to anything but the empty string (no-color.org).
    pub fn no_color(&self) -> bool {
        self.no_color.as_deref().is_some_and(|v| !v.is_empty())
    }

    /// Columns: the terminal's own width; else `COLUMNS` (so `COLUMNS=60
    /// tidbpe … | less` lays out for 60); else [`FIXED_WIDTH`].
    fn width(&self) -> usize {
        let terminal = self
            .terminal_width
            .filter(|_| self.is_terminal)
            .map(usize::from)
            .filter(|&w| w > 0);
        let columns = || {
            self.columns
                .as_deref()
                .and_then(|c| c.to_str())
                .and_then(|c| c.trim().parse::<usize>().ok())
                .filter(|&w| w > 0)
        };
        terminal
            .or_else(columns)
            .unwrap_or(FIXED_WIDTH)
            .clamp(MIN_WIDTH, 1000)
    }
}

impl Terminal {
    /// Colour only on a terminal that can show it and was not told not to
    /// (`NO_COLOR`, `TERM=dumb`); the width of that terminal, else fixed.
    pub fn decide(env: &Env) -> Self {
        Terminal {
            colour: env.is_terminal && !env.no_color() && !env.is_dumb(),
            width: env.width(),
        }
    }

    /// The layout for standard output, from this process's environment.
    pub fn for_stdout() -> Self {
        Self::decide(&Env::of_stdout())
    }

    /// No colour, a given width.
    #[cfg(test)]
    pub fn plain(width: usize) -> Self {
        Terminal {
            colour: false,
            width,
        }
    }
}

#[cfg(test)]
mod decide_tests {
    use super::*;

    fn tty(width: u16) -> Env {
        Env {
            is_terminal: true,
            terminal_width: Some(width),
            term: Some("xterm-256color".into()),
            ..Env::default()
        }
    }

    #[test]
    fn colour_on_a_terminal_unless_no_color_or_dumb() {
        assert_eq!(
            Terminal::decide(&tty(80)),
            Terminal {
                colour: true,
                width: 80
            }
        );
        let no_color = Env {
            no_color: Some("1".into()),
            ..tty(80)
        };
        assert!(!Terminal::decide(&no_color).colour);
        let empty_no_color = Env {
            no_color: Some("".into()),
            ..tty(80)
        };
        assert!(Terminal::decide(&empty_no_color).colour);
        let dumb = Env {
            term: Some("dumb".into()),
            ..tty(80)
        };
        assert!(!Terminal::decide(&dumb).colour);
        assert_eq!(Terminal::decide(&dumb).width, 80);
    }

    #[test]
    fn width_from_the_terminal_else_columns_else_fixed() {
        let pipe = Env::default();
        assert_eq!(Terminal::decide(&pipe), Terminal::plain(FIXED_WIDTH));
        let columns = Env {
            columns: Some("60".into()),
            ..Env::default()
        };
        assert_eq!(Terminal::decide(&columns).width, 60);
        // A pseudo-terminal that reports no size (0 columns).
        let no_size = Env {
            columns: Some("junk".into()),
            ..tty(0)
        };
        assert_eq!(Terminal::decide(&no_size).width, FIXED_WIDTH);
        assert_eq!(Terminal::decide(&tty(5)).width, MIN_WIDTH);
    }
}

#[cfg(test)]
mod tests;
