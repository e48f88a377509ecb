//! Which exit code each phase error maps to; the table itself is `cnb_api::ExitCode`, which the
//! launcher shares.

pub use cnb_api::ExitCode;

/// Implemented by every error that can end a phase: which exit code it maps to.
pub trait ExitClass {
    /// The exit code for this error.
    fn exit_code(&self) -> ExitCode;
}
