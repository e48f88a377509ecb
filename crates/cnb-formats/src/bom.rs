//! The legacy bill of materials: `[[bom]]` entries of launch.toml and build.toml, deprecated in
//! favour of SBOM files but still carried, as upstream does, by metadata.toml and report.toml
//! (Platform API below 0.9), the `io.buildpacks.build.metadata` label, and from Platform API 0.9
//! the `sbom.legacy.json` files under `<layers>/sbom/{launch,build}`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{FormatError, Result};

/// The buildpack an entry came from: id and version only (no api, no homepage), as upstream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BomBuildpack {
    /// The buildpack id.
    #[serde(default)]
    pub id: String,
    /// The buildpack version.
    #[serde(default)]
    pub version: String,
}

/// One `[[bom]]` entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BomEntry {
    /// The dependency's name.
    #[serde(default)]
    pub name: String,
    /// A top-level version: read only to be refused (buildpacks put it in `metadata.version`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Free-form metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<toml::Table>,
    /// Set by the lifecycle to the buildpack that declared the entry.
    #[serde(default)]
    pub buildpack: BomBuildpack,
}

/// The JSON shape upstream writes: its key order, and `metadata` as `null` when absent.
#[derive(Serialize)]
struct EntryJson<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    version: &'a str,
    metadata: Value,
    buildpack: &'a BomBuildpack,
}

/// What a label holds, read leniently: anything upstream may have written parses.
#[derive(Deserialize)]
struct EntryJsonIn {
    #[serde(default)]
    name: String,
    #[serde(default)]
    version: String,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    buildpack: BomBuildpack,
}

fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        // Go writes a whole float without a fraction (`2`, not `2.0`).
        toml::Value::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Value::from(*f as i64),
        toml::Value::Float(f) => Value::from(*f),
        toml::Value::Boolean(b) => Value::Bool(*b),
        // serde would give toml's private wrapper object; a date is a string in JSON.
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// JSON to TOML for metadata read back from a label; TOML has no null, so nulls are dropped.
fn json_to_toml(v: Value) -> Option<toml::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => toml::Value::Boolean(b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => toml::Value::Integer(i),
            None => toml::Value::Float(n.as_f64()?),
        },
        Value::String(s) => toml::Value::String(s),
        Value::Array(a) => toml::Value::Array(a.into_iter().filter_map(json_to_toml).collect()),
        Value::Object(o) => toml::Value::Table(
            o.into_iter()
                .filter_map(|(k, v)| json_to_toml(v).map(|v| (k, v)))
                .collect(),
        ),
    })
}

/// Entries as upstream's JSON has them (in the `io.buildpacks.build.metadata` label and
/// `sbom.legacy.json`): `null` when there are none (a Go nil slice), else an array.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LegacyBom(pub Vec<BomEntry>);

impl Serialize for LegacyBom {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0.is_empty() {
            return s.serialize_none();
        }
        s.collect_seq(self.0.iter().map(|e| {
            EntryJson {
                name: &e.name,
                version: &e.version,
                metadata: e
                    .metadata
                    .as_ref()
                    .map(|m| {
                        Value::Object(
                            m.iter()
                                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                                .collect(),
                        )
                    })
                    .unwrap_or(Value::Null),
                buildpack: &e.buildpack,
            }
        }))
    }
}

impl<'de> Deserialize<'de> for LegacyBom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let entries: Option<Vec<EntryJsonIn>> = Option::deserialize(d)?;
        Ok(LegacyBom(
            entries
                .unwrap_or_default()
                .into_iter()
                .map(|e| BomEntry {
                    name: e.name,
                    version: e.version,
                    metadata: match e.metadata.and_then(json_to_toml) {
                        Some(toml::Value::Table(t)) => Some(t),
                        _ => None,
                    },
                    buildpack: e.buildpack,
                })
                .collect(),
        ))
    }
}

/// The text of an `sbom.legacy.json` file, byte for byte as upstream's Go encoder writes it:
/// compact, `<`, `>`, `&`, U+2028 and U+2029 escaped, one trailing newline; `null` when empty.
pub fn legacy_json(entries: &[BomEntry]) -> Result<String> {
    let text =
        serde_json::to_string(&LegacyBom(entries.to_vec())).map_err(|e| FormatError::Encode {
            what: "bom".into(),
            message: e.to_string(),
        })?;
    // These characters only ever occur inside JSON strings, so replacing them everywhere is safe.
    let mut out = String::with_capacity(text.len() + 1);
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out.push('\n');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(toml_text: &str) -> Vec<BomEntry> {
        #[derive(Deserialize)]
        struct Doc {
            bom: Vec<BomEntry>,
        }
        toml::from_str::<Doc>(toml_text).unwrap().bom
    }

    #[test]
    fn empty_is_null_as_a_go_nil_slice() {
        assert_eq!(legacy_json(&[]).unwrap(), "null\n");
    }

    #[test]
    fn json_has_upstreams_key_order_escapes_and_null_metadata() {
        let mut e = entries(
            "[[bom]]\nname = \"dep\"\n[bom.metadata]\nversion = \"1.2\"\nz = 1\na = [true, 1.5, 2.0]\nurl = \"a<b>&c\"\nwhen = 1979-05-27\n\n[[bom]]\nname = \"bare\"\n",
        );
        for x in &mut e {
            x.buildpack = BomBuildpack {
                id: "bp/a".into(),
                version: "1".into(),
            };
        }
        assert_eq!(
            legacy_json(&e).unwrap(),
            concat!(
                r#"[{"name":"dep","metadata":{"a":[true,1.5,2],"url":"a\u003cb\u003e\u0026c","version":"1.2","when":"1979-05-27","z":1},"buildpack":{"id":"bp/a","version":"1"}},"#,
                r#"{"name":"bare","metadata":null,"buildpack":{"id":"bp/a","version":"1"}}]"#,
                "\n"
            )
        );
    }

    #[test]
    fn the_label_form_reads_back() {
        let e = entries("[[bom]]\nname = \"dep\"\n[bom.metadata]\nv = \"1\"\nn = 2\n");
        let json = serde_json::to_string(&LegacyBom(e.clone())).unwrap();
        assert_eq!(serde_json::from_str::<LegacyBom>(&json).unwrap().0, e);
        assert_eq!(
            serde_json::to_string(&LegacyBom::default()).unwrap(),
            "null"
        );
        let read: LegacyBom =
            serde_json::from_str(r#"[{"name":"x","metadata":{"a":null}}]"#).unwrap();
        assert_eq!(read.0[0].metadata, Some(toml::Table::new()));
    }

    #[test]
    fn toml_round_trip_keeps_entries() {
        let e = entries(
            "[[bom]]\nname = \"dep\"\nversion = \"9\"\n[bom.metadata]\nv = \"1\"\n[bom.buildpack]\nid = \"x\"\nversion = \"2\"\n",
        );
        #[derive(Serialize, Deserialize)]
        struct Doc {
            bom: Vec<BomEntry>,
        }
        let text = toml::to_string(&Doc { bom: e.clone() }).unwrap();
        assert_eq!(toml::from_str::<Doc>(&text).unwrap().bom, e);
        assert_eq!(e[0].version, "9");
        assert_eq!(e[0].buildpack.id, "x");
    }
}
