//! The two kinds of failure and their exit codes (DESIGN §1).
//!
//! - [`ScenarioError`]: the user's input is wrong (a scenario value, a flag). Exit code 2,
//!   and the message names the file, line and column and says what was expected.
//! - [`Error::Run`]: the input was fine but the run failed (I/O, a deadlock, a limit hit).
//!   Exit code 1.

use std::fmt;

/// A mistake in a scenario file, with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioError {
    /// The file as the user named it (or `<default>` for the embedded scenario).
    pub file: String,
    /// 1-based line; 0 when the error has no position (a missing file).
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and what was expected.
    pub message: String,
}

impl ScenarioError {
    /// An error at byte `offset` of `text`.
    pub fn at(file: &str, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(text, offset);
        ScenarioError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An error about the file as a whole (it cannot be read, it is not UTF-8).
    pub fn whole_file(file: &str, message: impl Into<String>) -> Self {
        ScenarioError {
            file: file.to_string(),
            line: 0,
            column: 0,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Any failure of a gilsim command.
#[derive(Debug)]
pub enum Error {
    /// Bad input: exit code 2.
    Scenario(ScenarioError),
    /// Bad command-line usage that clap cannot catch: exit code 2.
    Usage(String),
    /// A failure while running: exit code 1.
    Run(String),
    /// Already reported on stderr (e.g. per file by `check`); exit with this code.
    Reported(u8),
    /// Ctrl-C or SIGTERM: children were stopped, nothing half-written; exit code 130.
    Interrupted,
}

impl Error {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Scenario(_) | Error::Usage(_) => 2,
            Error::Run(_) => 1,
            Error::Reported(code) => *code,
            Error::Interrupted => 130,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Scenario(e) => e.fmt(f),
            Error::Usage(m) | Error::Run(m) => f.write_str(m),
            Error::Reported(code) => write!(f, "failed (exit code {code})"),
            Error::Interrupted => f.write_str(
                "interrupted; every child process was stopped and no result file was written",
            ),
        }
    }
}

impl std::error::Error for Error {}

impl From<ScenarioError> for Error {
    fn from(e: ScenarioError) -> Self {
        Error::Scenario(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nµs = \"x\"\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'µ' is two bytes but one column.
        assert_eq!(line_column(text, 9), (2, 3));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn display_includes_the_position() {
        let e = ScenarioError::at("s.toml", "x\ny", 2, "bad");
        assert_eq!(e.to_string(), "s.toml:2:1: bad");
        assert_eq!(Error::from(e).exit_code(), 2);
        assert_eq!(Error::Run("boom".into()).exit_code(), 1);
    }
}
