//! A reader that fails at EOF when the content does not match its digest.

use std::io::Read;

use sha2::Digest as _;

use crate::Digest;

/// Wraps a blob's content; the last read returns an error if the sha256 differs.
pub struct VerifyingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
    expected: Digest,
    reference: String,
    done: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// Verifies `inner` against `expected`; `reference` names the image in the error.
    pub fn new(inner: R, expected: Digest, reference: String) -> Self {
        Self {
            inner,
            hasher: sha2::Sha256::new(),
            expected,
            reference,
            done: false,
        }
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.hasher.update(&buf[..n]);
        } else if !buf.is_empty() && !self.done {
            self.done = true;
            let actual = hex::encode(self.hasher.clone().finalize());
            if actual != self.expected.hex() {
                return Err(std::io::Error::other(format!(
                    "content of '{}' does not match its digest {} (got sha256:{actual})",
                    self.reference, self.expected
                )));
            }
        }
        Ok(n)
    }
}
