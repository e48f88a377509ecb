//! A stream read on a thread of its own: the producer reads (and decompresses) the layer and
//! hashes it into the diffID, the consumer parses the tar and writes files. Extraction is one
//! sequential stream per layer; splitting it in two lets gunzip and sha256 run beside the file
//! system work instead of taking turns with it.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, Sender, SyncSender, sync_channel};

use crate::hash::HashingReader;

/// Bytes per chunk handed over: large enough that the hand-over costs nothing next to the work
/// on it, small enough that a few in flight per layer keep memory flat.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the two threads.
const DEPTH: usize = 4;

/// The consumer's side: a [`Read`] over the chunks the producer sends.
pub(crate) struct ChunkReader {
    rx: Receiver<io::Result<Vec<u8>>>,
    /// Emptied chunks go back to the producer, so the steady state allocates nothing.
    back: Sender<Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    /// A producer error, kept to answer reads after the first that reported it.
    failed: Option<(io::ErrorKind, String)>,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos == self.current.len() {
            if let Some((kind, why)) = &self.failed {
                return Err(io::Error::new(*kind, why.clone()));
            }
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.current, chunk);
                    // The producer may be gone (it stops at the end); then the buffer is freed.
                    let _ = self.back.send(used);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.failed = Some((e.kind(), e.to_string()));
                    return Err(e);
                }
                // The producer sends nothing more after the end or an error.
                Err(_) => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl ChunkReader {
    /// Reads (and drops) whatever the producer still sends, so it hashes the stream to its end.
    pub(crate) fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(drop)
    }
}

/// The producer's side: reads `stream` to its end in chunks, hashing it. Returns the diffID and
/// length, or `None` when the consumer stopped listening (it failed) or reading failed (the
/// consumer got the error).
pub(crate) struct Producer<R> {
    stream: HashingReader<R>,
    tx: SyncSender<io::Result<Vec<u8>>>,
    back: Receiver<Vec<u8>>,
}

/// A connected producer and consumer.
pub(crate) fn pipe<R: Read>(stream: R) -> (Producer<R>, ChunkReader) {
    let (tx, rx) = sync_channel(DEPTH);
    let (back_tx, back_rx) = std::sync::mpsc::channel();
    (
        Producer {
            stream: HashingReader::new(stream),
            tx,
            back: back_rx,
        },
        ChunkReader {
            rx,
            back: back_tx,
            current: Vec::new(),
            pos: 0,
            failed: None,
            done: false,
        },
    )
}

impl<R: Read> Producer<R> {
    /// Runs until the end of the stream; the diffID (`sha256:<hex>`) of all of it.
    pub(crate) fn run(mut self) -> Option<String> {
        loop {
            // No emptied chunk back yet (or the consumer is gone): a new one.
            let mut chunk = self.back.try_recv().unwrap_or_default();
            chunk.resize(CHUNK, 0);
            match fill(&mut self.stream, &mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    chunk.truncate(n);
                    self.tx.send(Ok(chunk)).ok()?;
                }
                Err(e) => {
                    let _ = self.tx.send(Err(e));
                    return None;
                }
            }
        }
        drop(self.tx);
        // Everything was read: finish() reads nothing more, it only formats the hash.
        self.stream.finish().ok().map(|(d, _)| d)
    }
}

/// Reads until `buf` is full or the stream ends; how many bytes.
fn fill(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `good` bytes, then an error.
    struct Failing {
        good: usize,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.good == 0 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "bad digest"));
            }
            let n = buf.len().min(self.good);
            buf[..n].fill(7);
            self.good -= n;
            Ok(n)
        }
    }

    #[test]
    fn every_byte_arrives_and_is_hashed() {
        let data: Vec<u8> = (0..CHUNK * 3 + 123).map(|i| (i % 251) as u8).collect();
        let (producer, mut reader) = pipe(&data[..]);
        std::thread::scope(|s| {
            let hashed = s.spawn(move || producer.run());
            let mut got = Vec::new();
            reader.read_to_end(&mut got).unwrap();
            assert_eq!(got, data);
            drop(reader);
            assert_eq!(
                hashed.join().unwrap(),
                Some(crate::sha256_hex(&data)),
                "the diffID of the whole stream"
            );
        });
    }

    #[test]
    fn a_read_error_reaches_the_consumer_and_stays() {
        let (producer, mut reader) = pipe(Failing { good: CHUNK + 5 });
        std::thread::scope(|s| {
            let hashed = s.spawn(move || producer.run());
            let err = reader.drain().unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert!(err.to_string().contains("bad digest"), "{err}");
            let again = reader.read(&mut [0u8; 16]).unwrap_err();
            assert_eq!(again.kind(), io::ErrorKind::InvalidData);
            drop(reader);
            assert_eq!(hashed.join().unwrap(), None);
        });
    }

    #[test]
    fn a_consumer_that_stops_early_stops_the_producer() {
        let data = vec![1u8; CHUNK * (DEPTH + 4)];
        let (producer, mut reader) = pipe(&data[..]);
        std::thread::scope(|s| {
            let hashed = s.spawn(move || producer.run());
            let mut first = [0u8; 10];
            reader.read_exact(&mut first).unwrap();
            drop(reader);
            assert_eq!(
                hashed.join().unwrap(),
                None,
                "no hash of a stream cut short"
            );
        });
    }
}
