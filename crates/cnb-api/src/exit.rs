//! The exit codes of the Platform API (platform.md "Exit codes"; lifecycle `platform/exit.go`):
//! one table for every phase and the launcher.

/// A phase's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ExitCode {
    /// 0: success.
    Success = 0,
    /// 1: any failure without a more specific code.
    Failed = 1,
    /// 2: a flag the phase (at this Platform API) does not know.
    InvalidFlag = 2,
    /// 3: invalid arguments or inputs.
    InvalidArgs = 3,
    /// 11: unsupported Platform API.
    IncompatiblePlatformApi = 11,
    /// 12: unsupported Buildpack API.
    IncompatibleBuildpackApi = 12,
    /// 20: no buildpack group passed detection.
    FailedDetect = 20,
    /// 21: no group passed and at least one buildpack errored.
    FailedDetectWithErrors = 21,
    /// 22: another detect error.
    DetectError = 22,
    /// 32: analyze error.
    AnalyzeError = 32,
    /// 42: restore error.
    RestoreError = 42,
    /// 51: a buildpack's `/bin/build` failed.
    FailedBuildWithErrors = 51,
    /// 52: another build error.
    BuildError = 52,
    /// 62: export error.
    ExportError = 62,
    /// 72: rebase error.
    RebaseError = 72,
    /// 82: launch error.
    LaunchError = 82,
    /// 91: an extension's `/bin/generate` failed.
    FailedGenerateWithErrors = 91,
    /// 92: another generate error.
    GenerateError = 92,
    /// 102: extend error.
    ExtendError = 102,
}

impl ExitCode {
    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_spec() {
        let table = [
            (ExitCode::Failed, 1),
            (ExitCode::InvalidFlag, 2),
            (ExitCode::InvalidArgs, 3),
            (ExitCode::IncompatiblePlatformApi, 11),
            (ExitCode::IncompatibleBuildpackApi, 12),
            (ExitCode::FailedDetect, 20),
            (ExitCode::FailedDetectWithErrors, 21),
            (ExitCode::DetectError, 22),
            (ExitCode::AnalyzeError, 32),
            (ExitCode::RestoreError, 42),
            (ExitCode::FailedBuildWithErrors, 51),
            (ExitCode::BuildError, 52),
            (ExitCode::ExportError, 62),
            (ExitCode::RebaseError, 72),
            (ExitCode::LaunchError, 82),
            (ExitCode::FailedGenerateWithErrors, 91),
            (ExitCode::GenerateError, 92),
            (ExitCode::ExtendError, 102),
        ];
        for (code, n) in table {
            assert_eq!(code.code(), n, "{code:?}");
        }
    }
}
