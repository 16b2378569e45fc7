//! The JSON-lines loop `authz check` and `authz policy` share: one answer line per input line.

use crate::Finished;
use anyhow::Context as _;
use std::io::{BufRead, Write};

/// One input line as the command sees it: its text, or why it has none.
pub type Line<'a> = Result<&'a str, &'static str>;

/// Reads standard input line by line and writes `answer`'s line for each, flushed at once so that a caller can
/// write one request and wait for its answer. Blank lines are skipped. Lines are split on bytes, so a line that
/// is not UTF-8 is one malformed line (`Err`) rather than the end of the run. `answer` returns the output line
/// and whether that line had a problem; any problem makes the run finish `WithProblems`.
pub fn answer_each(
    mut answer: impl FnMut(usize, Line<'_>) -> anyhow::Result<(String, bool)>,
) -> anyhow::Result<Finished> {
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut finished = Finished::Clean;
    for (index, line) in stdin.split(b'\n').enumerate() {
        let number = index + 1;
        let bytes = line.with_context(|| format!("cannot read line {number} of the input"))?;
        let (output, problem) = match std::str::from_utf8(&bytes) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => answer(number, Ok(text))?,
            Err(_) => answer(number, Err("not UTF-8"))?,
        };
        if problem {
            finished = Finished::WithProblems;
        }
        writeln!(stdout, "{output}").and_then(|()| stdout.flush()).context("cannot write to stdout")?;
    }
    Ok(finished)
}
