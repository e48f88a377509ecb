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
    /// `extender` (applies extension Dockerfiles; Linux only)
    Extender,
    /// `launcher`: no flags; every argument belongs to the launched process.
    Launcher,
}

impl Phase {
    /// Whether the phase takes flags at all (the launcher passes every argument on).
    pub fn takes_flags(self) -> bool {
        self != Phase::Launcher
    }

    /// Every phase, in the order a platform runs them.
    pub const ALL: [Phase; 9] = [
        Phase::Analyzer,
        Phase::Detector,
        Phase::Restorer,
        Phase::Extender,
        Phase::Builder,
        Phase::Exporter,
        Phase::Creator,
        Phase::Rebaser,
        Phase::Launcher,
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
            Phase::Extender => "extender",
            Phase::Launcher => "launcher",
        }
    }

    /// How many positional arguments the phase takes: (min, max).
    pub fn positionals(self) -> (usize, Option<usize>) {
        match self {
            Phase::Analyzer | Phase::Creator => (1, Some(1)),
            Phase::Exporter | Phase::Rebaser => (1, None),
            Phase::Detector | Phase::Restorer | Phase::Builder | Phase::Extender => (0, Some(0)),
            Phase::Launcher => (0, None),
        }
    }

    /// What the positionals are called in usage text.
    pub fn positional_name(self) -> &'static str {
        match self {
            Phase::Analyzer | Phase::Creator => "<image>",
            Phase::Exporter | Phase::Rebaser => "<image> [<image>...]",
            Phase::Launcher => "[--] [<command> <arg>...]",
            _ => "",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
