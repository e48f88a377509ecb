//! Test-only helpers: testdata paths, a real loopback registry.
