//! The phases whose inputs this crate knows.

use std::fmt;

/// A lifecycle phase binary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// `analyzer`
    Analyzer,
    /// `detector`
    Detector,
    /// `restorer`
    Restorer,
    /// `builder`
    Builder,
    /// `exporter`
    Exporter,
    /// `creator`
    Creator,
    /// `rebaser`
    Rebaser,
}

impl Phase {
    /// Every phase, in the order a platform runs them.
    pub const ALL: [Phase; 7] = [
        Phase::Analyzer,
        Phase::Detector,
        Phase::Restorer,
        Phase::Builder,
        Phase::Exporter,
        Phase::Creator,
        Phase::Rebaser,
    ];

    /// The binary's name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Analyzer => "analyzer",
            Phase::Detector => "detector",
            Phase::Restorer => "restorer",
            Phase::Builder => "builder",
            Phase::Exporter => "exporter",
            Phase::Creator => "creator",
            Phase::Rebaser => "rebaser",
        }
    }

    /// How many positional arguments the phase takes: (min, max).
    pub fn positionals(self) -> (usize, Option<usize>) {
        match self {
            Phase::Analyzer | Phase::Creator => (1, Some(1)),
            Phase::Exporter | Phase::Rebaser => (1, None),
            Phase::Detector | Phase::Restorer | Phase::Builder => (0, Some(0)),
        }
    }

    /// What the positionals are called in usage text.
    pub fn positional_name(self) -> &'static str {
        match self {
            Phase::Analyzer | Phase::Creator => "<image>",
            Phase::Exporter | Phase::Rebaser => "<image> [<image>...]",
            _ => "",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
