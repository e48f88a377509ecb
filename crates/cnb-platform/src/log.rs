//! The phases' logger: info and debug to stdout, warnings and errors to stderr.
//!
//! Upstream writes every level to stdout; the spec asks for warnings and errors on stderr, which
//! is also what lets a platform separate them, so we follow the spec.

use std::fmt;
use std::io::Write;
use std::str::FromStr;

/// How much a phase says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Everything, including buildpack detect output of passing groups.
    Debug,
    /// Progress users expect (the default).
    #[default]
    Info,
    /// Only warnings and errors.
    Warn,
    /// Only errors.
    Error,
}

impl FromStr for LogLevel {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "debug" => Ok(LogLevel::Debug),
            "info" => Ok(LogLevel::Info),
            "warn" | "warning" => Ok(LogLevel::Warn),
            "error" => Ok(LogLevel::Error),
            _ => Err(format!(
                "invalid log level '{s}': expected debug, info, warn or error"
            )),
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        })
    }
}

/// Writes a phase's messages at or above its level.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logger {
    /// The lowest level shown.
    pub level: LogLevel,
    /// Whether to leave out colour.
    pub no_color: bool,
}

impl Logger {
    /// A logger at `level`.
    pub fn new(level: LogLevel, no_color: bool) -> Self {
        Self { level, no_color }
    }

    /// Whether messages at `level` are shown.
    pub fn enabled(&self, level: LogLevel) -> bool {
        level >= self.level
    }

    /// A debug message (stdout).
    pub fn debug(&self, msg: impl fmt::Display) {
        if self.enabled(LogLevel::Debug) {
            let _ = writeln!(std::io::stdout().lock(), "{msg}");
        }
    }

    /// An info message (stdout).
    pub fn info(&self, msg: impl fmt::Display) {
        if self.enabled(LogLevel::Info) {
            let _ = writeln!(std::io::stdout().lock(), "{msg}");
        }
    }

    /// A warning (stderr), prefixed `Warning: ` as upstream.
    pub fn warn(&self, msg: impl fmt::Display) {
        if self.enabled(LogLevel::Warn) {
            let prefix = self.paint("Warning: ", "33");
            let _ = writeln!(std::io::stderr().lock(), "{prefix}{msg}");
        }
    }

    /// An error (stderr), prefixed `ERROR: ` as upstream; always shown.
    pub fn error(&self, msg: impl fmt::Display) {
        let prefix = self.paint("ERROR: ", "31");
        let _ = writeln!(std::io::stderr().lock(), "{prefix}{msg}");
    }

    fn paint(&self, text: &str, colour: &str) -> String {
        use std::io::IsTerminal;
        // Colour only for a person at a terminal; logs captured by a platform stay plain.
        if self.no_color || !std::io::stderr().is_terminal() {
            text.to_string()
        } else {
            format!("\x1b[{colour}m{text}\x1b[0m")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order() {
        assert_eq!("DEBUG".parse(), Ok(LogLevel::Debug));
        assert_eq!("warning".parse(), Ok(LogLevel::Warn));
        assert!("loud".parse::<LogLevel>().unwrap_err().contains("'loud'"));
        assert_eq!(LogLevel::default(), LogLevel::Info);
        assert_eq!(LogLevel::Error.to_string(), "error");
        let log = Logger::new(LogLevel::Warn, true);
        assert!(!log.enabled(LogLevel::Info));
        assert!(log.enabled(LogLevel::Warn) && log.enabled(LogLevel::Error));
        assert_eq!(log.paint("x", "31"), "x");
    }
}
