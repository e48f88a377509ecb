//! `report.toml`: what the exporter or rebaser saved.

use serde::{Deserialize, Serialize};

/// `[image]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ImageReport {
    /// Every name the image was saved under successfully.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The daemon image ID (daemon exports).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    /// The manifest digest (registry exports).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub digest: String,
    /// The manifest size in bytes (registry exports).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub manifest_size: u64,
    /// Ours (`-index`): the digest of the image index the image was added to, as last read with
    /// the image in it. An extra key, so readers of upstream's report.toml ignore it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub index_digest: String,
    /// `[[image.children]]`: one entry per child when the image is an index (the rebaser's
    /// index rebase, our addition). Upstream readers ignore the unknown key; `digest` and
    /// `manifest-size` above are then the index's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildReport>,
}

/// `[[image.children]]`: one platform's image inside a saved index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ChildReport {
    /// `os/arch[/variant]`, as the index lists it.
    pub platform: String,
    /// The child's manifest digest.
    pub digest: String,
    /// The child's manifest size in bytes.
    pub manifest_size: u64,
    /// False when `-force` kept this child on its old base (no run image for its platform).
    pub rebased: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `[build]` (Platform API below 0.9).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BuildReport {
    /// Legacy bill of materials.
    #[serde(default)]
    pub bom: Vec<crate::bom::BomEntry>,
}

/// The whole report.toml.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The saved image.
    #[serde(default)]
    pub image: ImageReport,
    /// The build, below Platform API 0.9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<BuildReport>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_are_an_array_of_tables_under_image_and_absent_when_empty() {
        let mut report = Report::default();
        report.image.tags = vec!["r/app:1".into()];
        report.image.digest = "sha256:aa".into();
        let plain = toml::to_string(&report).unwrap();
        assert!(!plain.contains("children"), "{plain}");
        report.image.children = vec![ChildReport {
            platform: "linux/arm64/v8".into(),
            digest: "sha256:bb".into(),
            manifest_size: 7,
            rebased: false,
        }];
        let text = toml::to_string(&report).unwrap();
        assert!(text.contains("[[image.children]]"), "{text}");
        assert!(text.contains("platform = \"linux/arm64/v8\""), "{text}");
        assert_eq!(toml::from_str::<Report>(&text).unwrap(), report);
        // A reader that only knows upstream's keys still reads the [image] table.
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Upstream {
            image: UpstreamImage,
        }
        #[derive(Deserialize)]
        struct UpstreamImage {
            tags: Vec<String>,
            digest: String,
        }
        let up: Upstream = toml::from_str(&text).unwrap();
        assert_eq!(up.image.tags, ["r/app:1"]);
        assert_eq!(up.image.digest, "sha256:aa");
    }

    #[test]
    fn the_index_digest_is_an_extra_key_under_image() {
        let report = Report {
            image: ImageReport {
                tags: vec!["r/app:amd64".into()],
                digest: "sha256:aa".into(),
                manifest_size: 10,
                index_digest: "sha256:bb".into(),
                ..Default::default()
            },
            build: None,
        };
        let text = crate::to_toml_string(&report).unwrap();
        assert!(text.contains("index-digest = \"sha256:bb\""), "{text}");
        // Without -index the report is upstream's, key for key.
        let plain = Report {
            image: ImageReport {
                index_digest: String::new(),
                ..report.image.clone()
            },
            build: None,
        };
        assert!(!crate::to_toml_string(&plain).unwrap().contains("index"));
        let back: Report = toml::from_str(&text).unwrap();
        assert_eq!(back, report);
    }
}
