//! docs/inputs.md is the table, rendered.

#[test]
fn docs_inputs_md_matches_the_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/inputs.md");
    let rendered = cnb_platform::inputs_markdown();
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == rendered,
        "docs/inputs.md is stale: run `UPDATE_DOCS=1 cargo test -p cnb-platform`"
    );
}
