//! Default paths of the lifecycle inside a builder or app image.

use std::path::PathBuf;

/// Separator of PATH-like lists (`:` on unix, `;` on Windows).
#[cfg(unix)]
pub const PATH_LIST_SEPARATOR: &str = ":";
/// Separator of PATH-like lists (`:` on unix, `;` on Windows).
#[cfg(windows)]
pub const PATH_LIST_SEPARATOR: &str = ";";

/// `/cnb/lifecycle` (`c:\cnb\lifecycle` on Windows).
pub fn default_lifecycle_dir() -> PathBuf {
    if cfg!(windows) {
        PathBuf::from(r"c:\cnb\lifecycle")
    } else {
        PathBuf::from("/cnb/lifecycle")
    }
}

/// `/cnb/lifecycle/launcher` (`launcher.exe` on Windows).
pub fn default_launcher_path() -> PathBuf {
    default_lifecycle_dir().join(if cfg!(windows) {
        "launcher.exe"
    } else {
        "launcher"
    })
}
