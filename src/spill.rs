//! A list of fixed-size records that moves to a temporary file when it grows large, so a
//! trace of 10⁷ segments does not need them in memory (issue 6).
//!
//! Records are kept in a `Vec` up to a limit; past it, everything is written to an
//! anonymous file (created in the temp directory and unlinked at once, so nothing is left
//! behind even if the process is killed) and later records are appended through a buffer.
//! [`Records::seal`] flushes when the producer is done; [`Records::iter`] then reads them
//! back in order with positional reads, in blocks.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;

/// A record with a fixed binary size.
pub trait Record: Copy {
    /// Bytes per record.
    const SIZE: usize;
    /// Writes the record into `out` (exactly `SIZE` bytes).
    fn encode(&self, out: &mut [u8]);
    /// Reads a record written by `encode`.
    fn decode(bytes: &[u8]) -> Self;
}

/// Records kept in memory before the list moves to a file (24 MB of 24-byte records).
pub const DEFAULT_IN_MEMORY: usize = 1 << 20;

/// An append-only list of records, in memory or spilled to a temporary file.
pub struct Records<T: Record> {
    memory: Vec<T>,
    limit: usize,
    file: Option<Spilled>,
    len: u64,
}

struct Spilled {
    file: File,
    writer: Option<BufWriter<File>>,
}

impl<T: Record> Records<T> {
    /// An empty list that keeps at most `limit` records in memory.
    pub fn new(limit: usize) -> Self {
        Records {
            memory: Vec::new(),
            limit,
            file: None,
            len: 0,
        }
    }

    /// How many records.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True when the records live in a file.
    pub fn spilled(&self) -> bool {
        self.file.is_some()
    }

    /// Appends a record. A failing temporary file is fatal for the trace: it panics with
    /// the reason rather than silently dropping records.
    pub fn push(&mut self, record: T) {
        self.len += 1;
        if let Some(spilled) = &mut self.file {
            let writer = spilled
                .writer
                .as_mut()
                .expect("records pushed after seal()");
            write_record(writer, record);
            return;
        }
        self.memory.push(record);
        if self.memory.len() > self.limit {
            self.spill();
        }
    }

    fn spill(&mut self) {
        let file = anonymous_file()
            .unwrap_or_else(|e| panic!("cannot create the trace's temporary file: {e}"));
        let mut writer = BufWriter::with_capacity(
            1 << 16,
            file.try_clone()
                .unwrap_or_else(|e| panic!("cannot use the trace's temporary file: {e}")),
        );
        for r in self.memory.drain(..) {
            write_record(&mut writer, r);
        }
        self.memory = Vec::new();
        self.file = Some(Spilled {
            file,
            writer: Some(writer),
        });
    }

    /// Flushes a spilled list; call once no more records will be pushed.
    pub fn seal(&mut self) {
        if let Some(spilled) = &mut self.file {
            if let Some(mut w) = spilled.writer.take() {
                w.flush()
                    .unwrap_or_else(|e| panic!("cannot write the trace's temporary file: {e}"));
            }
        }
    }

    /// The records in the order they were pushed.
    pub fn iter(&self) -> Box<dyn Iterator<Item = T> + '_> {
        match &self.file {
            None => Box::new(self.memory.iter().copied()),
            Some(spilled) => {
                assert!(spilled.writer.is_none(), "iterating before seal()");
                Box::new(FileIter {
                    file: &spilled.file,
                    offset: 0,
                    end: self.len * T::SIZE as u64,
                    block: Vec::new(),
                    at: 0,
                    _marker: std::marker::PhantomData,
                })
            }
        }
    }
}

/// Encodes one record into the spill file's buffer.
fn write_record<T: Record>(writer: &mut BufWriter<File>, record: T) {
    let mut buf = [0u8; 64];
    record.encode(&mut buf[..T::SIZE]);
    writer
        .write_all(&buf[..T::SIZE])
        .unwrap_or_else(|e| panic!("cannot write the trace's temporary file: {e}"));
}

struct FileIter<'a, T> {
    file: &'a File,
    offset: u64,
    end: u64,
    block: Vec<u8>,
    at: usize,
    _marker: std::marker::PhantomData<T>,
}

impl<T: Record> Iterator for FileIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.at >= self.block.len() {
            if self.offset >= self.end {
                return None;
            }
            let n = (self.end - self.offset).min((T::SIZE * 4096) as u64) as usize;
            self.block.resize(n, 0);
            self.file
                .read_exact_at(&mut self.block, self.offset)
                .unwrap_or_else(|e| panic!("cannot read the trace's temporary file: {e}"));
            self.offset += n as u64;
            self.at = 0;
        }
        let r = T::decode(&self.block[self.at..self.at + T::SIZE]);
        self.at += T::SIZE;
        Some(r)
    }
}

/// A file in the temp directory that is already unlinked: gone when closed.
fn anonymous_file() -> std::io::Result<File> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "gilsim-trace-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let file = File::options()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)?;
    Ok(file)
}

impl<'a, T: Record> IntoIterator for &'a Records<T> {
    type Item = T;
    type IntoIter = Box<dyn Iterator<Item = T> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T: Record> Default for Records<T> {
    fn default() -> Self {
        Records::new(DEFAULT_IN_MEMORY)
    }
}

impl<T: Record> Clone for Records<T> {
    fn clone(&self) -> Self {
        let mut out = Records::new(self.limit);
        for r in self.iter() {
            out.push(r);
        }
        out.seal();
        out
    }
}

impl<T: Record + PartialEq> PartialEq for Records<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Record + std::fmt::Debug> std::fmt::Debug for Records<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Records({} records{})",
            self.len,
            if self.spilled() { ", in a file" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Pair(u32, u64);

    impl Record for Pair {
        const SIZE: usize = 12;
        fn encode(&self, out: &mut [u8]) {
            out[..4].copy_from_slice(&self.0.to_le_bytes());
            out[4..12].copy_from_slice(&self.1.to_le_bytes());
        }
        fn decode(b: &[u8]) -> Self {
            Pair(
                u32::from_le_bytes(b[..4].try_into().unwrap()),
                u64::from_le_bytes(b[4..12].try_into().unwrap()),
            )
        }
    }

    #[test]
    fn records_read_back_in_order_from_memory_and_from_the_file() {
        for limit in [1_000_000, 0, 3, 5000] {
            let mut r = Records::new(limit);
            let want: Vec<Pair> = (0..10_000u32).map(|i| Pair(i, u64::from(i) * 7)).collect();
            for &p in &want {
                r.push(p);
            }
            r.seal();
            assert_eq!(r.spilled(), limit < 10_000, "limit {limit}");
            assert_eq!(r.len(), 10_000);
            assert_eq!(r.iter().collect::<Vec<_>>(), want, "limit {limit}");
            let copy = r.clone();
            assert!(copy == r);
        }
    }
}
