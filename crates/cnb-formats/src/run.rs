//! `run.toml` (Platform API 0.12+) and `stack.toml` (below): where the run image comes from.

use serde::{Deserialize, Serialize};

use crate::labels::RunImageRef;

/// The whole run.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunMetadata {
    /// Run images, the first one preferred.
    #[serde(default)]
    pub images: Vec<RunImageRef>,
}

impl RunMetadata {
    /// The first `[[images]]` entry whose image or one of whose mirrors is `name`, names compared
    /// after `normalize` (upstream ignores a digest and a missing tag when matching).
    pub fn entry_containing(
        &self,
        name: &str,
        normalize: impl Fn(&str) -> String,
    ) -> Option<&RunImageRef> {
        let wanted = normalize(name);
        self.images.iter().find(|entry| {
            std::iter::once(&entry.image)
                .chain(&entry.mirrors)
                .any(|n| normalize(n) == wanted)
        })
    }
}

/// The whole stack.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct StackToml {
    /// The run image.
    #[serde(default)]
    pub run_image: RunImageRef,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_containing_finds_the_entry_of_an_image_or_a_mirror() {
        let run: RunMetadata = toml::from_str(
            "[[images]]\nimage = \"a.test/run\"\n\n[[images]]\nimage = \"b.test/run\"\nmirrors = [\"c.test/run\"]\n",
        )
        .unwrap();
        let same = |s: &str| s.to_string();
        assert_eq!(
            run.entry_containing("c.test/run", same).unwrap().image,
            "b.test/run"
        );
        assert_eq!(
            run.entry_containing("b.test/run", same).unwrap().mirrors,
            ["c.test/run"]
        );
        assert!(run.entry_containing("d.test/run", same).is_none());
        let strip = |s: &str| s.split('@').next().unwrap_or_default().to_string();
        assert_eq!(
            run.entry_containing("c.test/run@sha256:00", strip)
                .unwrap()
                .image,
            "b.test/run"
        );
    }
}
