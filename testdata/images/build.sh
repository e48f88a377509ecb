#!/usr/bin/env bash
# Rebuilds the OCI layout fixtures in testdata/images/layout from text held in the repository
# (crates/cnb-test-support/src/fixtures.rs). Reproducible: running it again changes nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$here/layout"
cargo run -q -p cnb-test-support --example build-image-fixtures -- "$here/layout"
