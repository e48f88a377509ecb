//! What an exec.d executable writes to file descriptor 3: top-level `NAME = "value"` pairs.

use std::collections::BTreeMap;

/// Parses exec.d output; `origin` names the executable in errors.
pub fn parse(text: &str, origin: &std::path::Path) -> crate::Result<BTreeMap<String, String>> {
    crate::parse_toml(text, origin)
}
