//! A trace's log file: lines go through a bounded queue to a writer task, so
//! the connection or publisher that traces never waits on the disk. A full
//! queue drops the line and counts it.

use roost_core::trace::TraceSink;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::io::AsyncWriteExt as _;
use tokio::sync::mpsc;

/// Lines waiting for the writer, at most.
const QUEUE: usize = 8192;

/// The sink of one trace; the writer ends (after writing what is queued) once
/// the registry lets the sink go.
pub struct FileSink {
    tx: mpsc::Sender<String>,
    dropped: AtomicU64,
}

impl FileSink {
    /// Opens the log and starts the writer. A file the operator named
    /// (`named`) must not exist yet: a trace never overwrites or appends to a
    /// file it did not make. A log under the trace directory is created with
    /// its directory, or emptied (a trace of the same name before).
    pub fn open(path: &Path, named: bool) -> std::io::Result<FileSink> {
        let file = if named {
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)?
        } else {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::File::create(path)?
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write_lines(tokio::fs::File::from_std(file), rx));
        Ok(FileSink {
            tx,
            dropped: AtomicU64::new(0),
        })
    }
}

impl TraceSink for FileSink {
    fn write(&self, line: String) {
        if self.tx.try_send(line).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Appends each line; flushes whenever the queue is empty, so a reader of the
/// log sees what was traced a moment ago.
async fn write_lines(file: tokio::fs::File, mut rx: mpsc::Receiver<String>) {
    let mut out = tokio::io::BufWriter::new(file);
    while let Some(line) = rx.recv().await {
        let mut ok = out.write_all(line.as_bytes()).await.is_ok();
        ok &= out.write_all(b"\n").await.is_ok();
        if rx.is_empty() {
            ok &= out.flush().await.is_ok();
        }
        if !ok {
            tracing::warn!("trace_log_write_failed");
            return;
        }
    }
    let _ = out.flush().await;
}

/// At most `bytes` of the file from `position` (nothing past its end).
pub fn read_at(path: &Path, position: u64, bytes: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(position))?;
    let mut data = Vec::new();
    f.take(bytes).read_to_end(&mut data)?;
    Ok(data)
}
