//! The detector's log, held back until the end: on success each line is shown at its own level,
//! when no group passes everything is shown at info level so the user sees why.

use cnb_platform::Logger;

/// Lines logged while detecting, with whether they are debug-only on success.
#[derive(Debug, Default)]
pub struct Journal {
    lines: Vec<(bool, String)>,
}

impl Journal {
    /// A line shown only at debug level, unless detection fails.
    pub fn debug(&mut self, line: impl Into<String>) {
        self.lines.push((true, line.into()));
    }

    /// A line always shown at info level.
    pub fn info(&mut self, line: impl Into<String>) {
        self.lines.push((false, line.into()));
    }

    /// Writes the lines: as logged, or all at info level when `failed`.
    pub fn flush(self, log: &Logger, failed: bool) {
        for (debug, line) in self.lines {
            if debug && !failed {
                log.debug(line);
            } else {
                log.info(line);
            }
        }
    }
}
