//! Rendering: format a [`Report`](crate::report::Report), nothing else.

pub mod human;

use std::io::{self, Write};

use crate::report::Report;

/// The JSON report, pretty-printed, with a final newline.
pub fn json(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report)?;
    writeln!(out)
}
