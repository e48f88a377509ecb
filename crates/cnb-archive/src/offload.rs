//! A writer whose inner writer runs on its own thread: the stages of a layer (reading and tarring
//! the files; hashing the tar and feeding the compressor; hashing and writing the compressed
//! bytes) then overlap instead of taking turns on one thread. The bytes and their order are
//! unchanged: chunks go through one bounded FIFO channel to one thread.

use std::io::{self, Read, Write};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes handed over at a time: large enough that the channel costs nothing per byte, small
/// enough that the stages overlap within a file.
const CHUNK: usize = 512 * 1024;
/// Chunks in flight (queued plus being written): bounds the memory at `DEPTH * CHUNK` per stage.
const DEPTH: usize = 4;

/// Writes to `T` on a thread of its own. [`Offload::finish`] returns `T` (not flushed) once
/// everything written has reached it; an error of the inner writer is reported by the next write or by
/// `finish`.
pub(crate) struct Offload<T: Write + Send + 'static> {
    /// The chunk being filled (always `CHUNK` long; `filled` bytes are data).
    buf: Vec<u8>,
    filled: usize,
    tx: Option<SyncSender<(Vec<u8>, usize)>>,
    /// Chunks the thread is done with, to be filled again.
    free: Receiver<Vec<u8>>,
    handle: Option<JoinHandle<io::Result<T>>>,
}

impl<T: Write + Send + 'static> Offload<T> {
    /// Starts the thread writing to `inner`; gives `inner` back when no thread can be started.
    pub(crate) fn new(inner: T) -> Result<Self, T> {
        let (tx, rx) = sync_channel::<(Vec<u8>, usize)>(DEPTH - 1);
        let (free_tx, free) = sync_channel::<Vec<u8>>(DEPTH);
        // The writer reaches the thread once it runs, so a failed spawn leaves it here.
        let (init_tx, init_rx) = sync_channel::<T>(1);
        let spawned = std::thread::Builder::new()
            .name("cnb-layer-stage".into())
            .spawn(move || {
                let mut inner = init_rx.recv().map_err(|_| stopped())?;
                for (chunk, n) in rx {
                    inner.write_all(&chunk[..n])?;
                    // The filling side may have gone; the chunk is then dropped.
                    let _ = free_tx.try_send(chunk);
                }
                // Not flushed: a flush would end a compressor's block early and change its
                // output; whoever finishes the inner writer does what its end needs.
                Ok(inner)
            });
        let handle = match spawned {
            Ok(h) => h,
            Err(_) => return Err(inner),
        };
        // Cannot fail: the channel has room and the thread waits for it.
        let _ = init_tx.send(inner);
        Ok(Self {
            buf: vec![0; CHUNK],
            filled: 0,
            tx: Some(tx),
            free,
            handle: Some(handle),
        })
    }

    /// Hands the filled part of the current chunk to the thread.
    fn send(&mut self) -> io::Result<()> {
        if self.filled == 0 {
            return Ok(());
        }
        let next = self.free.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
        let chunk = std::mem::replace(&mut self.buf, next);
        let n = std::mem::take(&mut self.filled);
        let sent = self.tx.as_ref().map(|tx| tx.send((chunk, n)));
        match sent {
            Some(Ok(())) => Ok(()),
            // The thread stopped: its error says why.
            _ => Err(self.join().err().unwrap_or_else(stopped)),
        }
    }

    /// Closes the channel and waits for the thread.
    fn join(&mut self) -> io::Result<T> {
        self.tx = None;
        match self.handle.take() {
            Some(h) => match h.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            },
            None => Err(stopped()),
        }
    }

    /// Copies `src` to its end straight into the chunks (no intermediate buffer); returns the
    /// number of bytes copied.
    pub(crate) fn copy_from(&mut self, src: &mut dyn Read) -> io::Result<u64> {
        let mut total = 0u64;
        loop {
            if self.filled == CHUNK {
                self.send()?;
            }
            let n = match src.read(&mut self.buf[self.filled..]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Ok(total);
            }
            self.filled += n;
            total += n as u64;
        }
    }

    /// Sends what is left and returns the inner writer once it has everything.
    pub(crate) fn finish(mut self) -> io::Result<T> {
        self.send()?;
        self.join()
    }
}

fn stopped() -> io::Error {
    io::Error::other("layer writer thread stopped")
}

impl<T: Write + Send + 'static> Write for Offload<T> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.filled == CHUNK {
            self.send()?;
        }
        let n = data.len().min(CHUNK - self.filled);
        self.buf[self.filled..self.filled + n].copy_from_slice(&data[..n]);
        self.filled += n;
        Ok(n)
    }

    /// Hands over the current chunk; the inner writer is flushed by [`Offload::finish`].
    fn flush(&mut self) -> io::Result<()> {
        self.send()
    }
}

impl<T: Write + Send + 'static> Drop for Offload<T> {
    /// Dropped without `finish` (an error elsewhere): stop the thread and wait for it, so that
    /// nothing writes after the layer was abandoned.
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn keeps_every_byte_in_order() {
        let data: Vec<u8> = (0..3 * CHUNK + 12345).map(|i| (i % 251) as u8).collect();
        let mut o = Offload::new(Vec::new()).ok().unwrap();
        o.write_all(&data[..100]).unwrap();
        o.copy_from(&mut &data[100..CHUNK + 7]).unwrap();
        o.write_all(&data[CHUNK + 7..]).unwrap();
        assert_eq!(o.finish().unwrap(), data);
    }

    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::other("disk full"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reports_the_inner_writers_error() {
        let mut o = Offload::new(Failing).ok().unwrap();
        let data = vec![1u8; CHUNK];
        let mut err = None;
        for _ in 0..2 * DEPTH + 2 {
            if let Err(e) = o.write_all(&data) {
                err = Some(e);
                break;
            }
        }
        let err = err.map_or_else(|| o.finish().err(), Some).unwrap();
        assert_eq!(err.to_string(), "disk full");
    }
}
