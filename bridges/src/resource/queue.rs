//! One buffer worker's queue (EMQX's replayq in `volatile_offload` mode):
//! oldest first, in three parts: `head` in memory (being sent), segment
//! files on disk, and `tail` in memory (being filled by the rule workers).
//! Producers only touch memory ([`Queue::push`] never does I/O); the buffer
//! worker writes the tail to a segment when memory passes `buffer_seg_bytes`
//! ([`Queue::take_spill`], [`Queue::spilled`]) and reads segments back into
//! the head as it sends. The whole is bounded by bytes: past the bound the
//! oldest output is dropped.

use super::codec;
use roost_rules::Map;
use std::collections::VecDeque;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// One queued rule output.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// When it was queued (ms since the epoch), for `request_ttl`.
    pub queued_ms: i64,
    pub output: Map,
    /// [`codec::size`] of the output.
    pub size: usize,
}

impl Item {
    pub fn new(output: Map, queued_ms: i64) -> Item {
        let size = codec::size(&output);
        Item {
            queued_ms,
            output,
            size,
        }
    }
}

enum Segment {
    /// Being written by the buffer worker (its items are in the worker's
    /// hands); counted, but not readable until written.
    Writing { count: usize, bytes: usize },
    OnDisk {
        path: PathBuf,
        count: usize,
        bytes: usize,
    },
    /// Could not be written: kept in memory instead.
    InMemory(VecDeque<Item>),
}

impl Segment {
    fn count(&self) -> usize {
        match self {
            Segment::Writing { count, .. } | Segment::OnDisk { count, .. } => *count,
            Segment::InMemory(items) => items.len(),
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Segment::Writing { bytes, .. } | Segment::OnDisk { bytes, .. } => *bytes,
            Segment::InMemory(items) => items.iter().map(|i| i.size).sum(),
        }
    }
}

/// What [`Queue::pop`] found besides items.
#[derive(Debug, Default, PartialEq)]
pub struct Popped {
    pub items: Vec<Item>,
    /// Outputs of a segment file that could not be read back (`dropped.other`).
    pub lost: usize,
}

pub struct Queue {
    head: VecDeque<Item>,
    segments: VecDeque<Segment>,
    tail: VecDeque<Item>,
    head_bytes: usize,
    tail_bytes: usize,
    seg_total_bytes: usize,
    len: usize,
    /// Where segments go; `None` is memory only.
    dir: Option<PathBuf>,
    seg_bytes: usize,
    max_bytes: usize,
    next_seq: u64,
}

impl Queue {
    /// A queue bounded by `max_bytes`, spilling past `seg_bytes` of memory to
    /// `dir` (emptied first: the buffer does not outlive the process; each
    /// buffer has a directory of its own).
    pub fn new(dir: Option<PathBuf>, seg_bytes: usize, max_bytes: usize) -> Queue {
        if let Some(dir) = &dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        Queue {
            head: VecDeque::new(),
            segments: VecDeque::new(),
            tail: VecDeque::new(),
            head_bytes: 0,
            tail_bytes: 0,
            seg_total_bytes: 0,
            len: 0,
            dir,
            seg_bytes,
            max_bytes,
            next_seq: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn bytes(&self) -> usize {
        self.head_bytes + self.tail_bytes + self.seg_total_bytes
    }

    /// Queues `item` and drops the oldest while over the bound, as far as
    /// the oldest are in memory; answers how many were dropped. No I/O.
    pub fn push(&mut self, item: Item) -> usize {
        self.tail_bytes += item.size;
        self.len += 1;
        self.tail.push_back(item);
        self.trim_memory()
    }

    /// Puts `items` (oldest first) before everything queued: what an
    /// action's previous buffer still held when the action was rebuilt.
    /// Drops the oldest while over the bound, as [`Queue::push`] does;
    /// answers how many. No I/O.
    pub fn requeue_front(&mut self, items: Vec<Item>) -> usize {
        for item in items.into_iter().rev() {
            self.head_bytes += item.size;
            self.len += 1;
            self.head.push_front(item);
        }
        self.trim_memory()
    }

    /// Drops oldest outputs while over the bound, from memory only.
    fn trim_memory(&mut self) -> usize {
        let mut dropped = 0;
        while self.bytes() > self.max_bytes && self.len > 1 {
            if let Some(i) = self.head.pop_front() {
                self.head_bytes -= i.size;
            } else if self.segments.is_empty() {
                let i = self.tail.pop_front().expect("len > 1");
                self.tail_bytes -= i.size;
            } else if let Some(Segment::InMemory(items)) = self.segments.front_mut() {
                let i = items.pop_front().expect("segments are never empty");
                self.seg_total_bytes -= i.size;
                if items.is_empty() {
                    self.segments.pop_front();
                }
            } else {
                break;
            }
            self.len -= 1;
            dropped += 1;
        }
        dropped
    }

    /// Whether the oldest outputs over the bound are on disk: the buffer
    /// worker reads them in ([`Queue::trim`]) to drop them.
    pub fn over(&self) -> bool {
        self.bytes() > self.max_bytes && self.len > 1
    }

    /// Drops the oldest outputs while over the bound, reading segments in
    /// as needed (I/O: the buffer worker's). Answers (dropped, lost).
    pub fn trim(&mut self) -> (usize, usize) {
        let (mut dropped, mut lost) = (self.trim_memory(), 0);
        while self.over() && self.head.is_empty() && self.readable_segment() {
            lost += self.load_segment();
            dropped += self.trim_memory();
        }
        (dropped, lost)
    }

    fn readable_segment(&self) -> bool {
        matches!(
            self.segments.front(),
            Some(Segment::OnDisk { .. } | Segment::InMemory(_))
        )
    }

    /// Whether the tail should go to disk now.
    pub fn should_spill(&self) -> bool {
        self.dir.is_some()
            && !self.tail.is_empty()
            && self.head_bytes + self.tail_bytes > self.seg_bytes
    }

    /// Takes the oldest `buffer_seg_bytes` of the tail out, to be written
    /// as the next segment (its place in the order is kept); `None` when no
    /// spill is due.
    pub fn take_spill(&mut self) -> Option<(u64, VecDeque<Item>)> {
        if !self.should_spill() {
            return None;
        }
        let mut items = VecDeque::new();
        let mut bytes = 0;
        while let Some(i) = self.tail.front() {
            if !items.is_empty() && bytes + i.size > self.seg_bytes {
                break;
            }
            bytes += i.size;
            items.push_back(self.tail.pop_front().expect("front exists"));
        }
        self.tail_bytes -= bytes;
        self.seg_total_bytes += bytes;
        self.segments.push_back(Segment::Writing {
            count: items.len(),
            bytes,
        });
        let seq = self.next_seq;
        self.next_seq += 1;
        Some((seq, items))
    }

    /// Where segment `seq` is written.
    pub fn segment_path(&self, seq: u64) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{seq:012}.seg")))
    }

    /// Records how the write of the last [`Queue::take_spill`] went: on
    /// disk at `path`, or kept in memory (`Err(items)`).
    pub fn spilled(&mut self, result: Result<PathBuf, VecDeque<Item>>) {
        let Some(slot) = self
            .segments
            .iter_mut()
            .rev()
            .find(|s| matches!(s, Segment::Writing { .. }))
        else {
            return;
        };
        *slot = match (result, &*slot) {
            (Ok(path), Segment::Writing { count, bytes }) => Segment::OnDisk {
                path,
                count: *count,
                bytes: *bytes,
            },
            (Err(items), _) => Segment::InMemory(items),
            (Ok(_), _) => unreachable!("found as Writing"),
        };
    }

    /// Moves the oldest segment into the head; answers how many of its
    /// outputs could not be read back.
    fn load_segment(&mut self) -> usize {
        let Some(seg) = self.segments.pop_front() else {
            return 0;
        };
        let (count, bytes) = (seg.count(), seg.bytes());
        self.seg_total_bytes -= bytes;
        let items = match seg {
            Segment::InMemory(items) => items,
            Segment::OnDisk { path, .. } => {
                let items = read_segment(&path);
                let _ = std::fs::remove_file(&path);
                items.unwrap_or_else(|e| {
                    tracing::warn!(path = %path.display(), error = %e, "bridge_buffer_segment_lost");
                    VecDeque::new()
                })
            }
            Segment::Writing { .. } => unreachable!("only the worker writes, and not now"),
        };
        let lost = count.saturating_sub(items.len());
        self.len -= lost;
        for i in items {
            self.head_bytes += i.size;
            self.head.push_back(i);
        }
        lost
    }

    /// Up to `n` outputs, oldest first (reads a segment in when the head
    /// runs out: the buffer worker's I/O).
    pub fn pop(&mut self, n: usize) -> Popped {
        let mut out = Popped::default();
        while out.items.len() < n {
            if let Some(i) = self.head.pop_front() {
                self.head_bytes -= i.size;
                self.len -= 1;
                out.items.push(i);
            } else if self.readable_segment() {
                out.lost += self.load_segment();
            } else if self.segments.is_empty() && !self.tail.is_empty() {
                std::mem::swap(&mut self.head, &mut self.tail);
                self.head_bytes = std::mem::take(&mut self.tail_bytes);
            } else {
                break;
            }
        }
        out
    }

    /// When the oldest output was queued, if it is in memory (a batch that
    /// is partly on disk is full anyway).
    pub fn oldest_ms(&self) -> Option<i64> {
        self.head
            .front()
            .or(if self.segments.is_empty() {
                self.tail.front()
            } else {
                None
            })
            .map(|i| i.queued_ms)
    }
}

/// Writes `items` as one segment file: records of (length, queued_ms,
/// output). Written to a temporary name, then renamed.
pub fn write_segment(path: &Path, items: &VecDeque<Item>) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut buf = Vec::new();
    let mut rec = Vec::new();
    for i in items {
        rec.clear();
        codec::encode_map(&i.output, &mut rec);
        buf.extend_from_slice(&(rec.len() as u32).to_le_bytes());
        buf.extend_from_slice(&i.queued_ms.to_le_bytes());
        buf.extend_from_slice(&rec);
    }
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&buf)?;
    drop(f);
    std::fs::rename(&tmp, path)
}

fn read_segment(path: &Path) -> std::io::Result<VecDeque<Item>> {
    let bytes = std::fs::read(path)?;
    let mut buf = bytes.as_slice();
    let mut items = VecDeque::new();
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "a damaged record");
    while !buf.is_empty() {
        if buf.len() < 12 {
            return Err(bad());
        }
        let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
        let queued_ms = i64::from_le_bytes(buf[4..12].try_into().expect("8 bytes"));
        buf = &buf[12..];
        if buf.len() < len {
            return Err(bad());
        }
        let mut rec = &buf[..len];
        let output = codec::decode_map(&mut rec).ok_or_else(bad)?;
        buf = &buf[len..];
        items.push_back(Item::new(output, queued_ms));
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use roost_rules::Value;

    fn item(n: i64) -> Item {
        let mut m = Map::new();
        m.insert("n".into(), Value::Int(n));
        m.insert("pad".into(), Value::Str("x".repeat(100)));
        Item::new(m, n)
    }

    fn n(i: &Item) -> i64 {
        match i.output.get("n") {
            Some(Value::Int(n)) => *n,
            _ => -1,
        }
    }

    /// What the worker does: spill whenever due.
    fn spill(q: &mut Queue) {
        if let Some((seq, items)) = q.take_spill() {
            let path = q.segment_path(seq).unwrap();
            write_segment(&path, &items).unwrap();
            q.spilled(Ok(path));
        }
    }

    #[test]
    fn spills_to_disk_and_reads_back_in_order() {
        let dir = std::env::temp_dir().join(format!("roost-q-{}", std::process::id()));
        let size = item(0).size;
        let mut q = Queue::new(Some(dir.clone()), size * 10, size * 1000);
        for i in 0..95 {
            assert_eq!(q.push(item(i)), 0);
            spill(&mut q);
        }
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert!(files >= 8, "{files} segment files");
        assert_eq!(q.len(), 95);
        let mut got = Vec::new();
        let mut k = 95;
        while !q.is_empty() || k < 120 {
            // Pushes keep coming while it drains.
            if k < 120 {
                q.push(item(k));
                k += 1;
                spill(&mut q);
            }
            let p = q.pop(7);
            assert_eq!(p.lost, 0);
            got.extend(p.items.iter().map(n));
        }
        assert_eq!(got, (0..120).collect::<Vec<_>>());
        assert_eq!(q.bytes(), 0);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        drop(q);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn full_drops_the_oldest_from_memory_and_from_disk() {
        let size = item(0).size;
        let mut q = Queue::new(None, size * 10, size * 10);
        let dropped: usize = (0..15).map(|i| q.push(item(i))).sum();
        assert_eq!(dropped, 5);
        let p = q.pop(100);
        assert_eq!(
            p.items.iter().map(n).collect::<Vec<_>>(),
            (5..15).collect::<Vec<_>>()
        );

        let dir = std::env::temp_dir().join(format!("roost-q2-{}", std::process::id()));
        let mut q = Queue::new(Some(dir), size * 4, size * 20);
        let mut dropped = 0;
        for i in 0..30 {
            dropped += q.push(item(i));
            spill(&mut q);
            if q.over() {
                dropped += q.trim().0;
            }
        }
        assert_eq!(dropped, 10);
        assert!(q.bytes() <= size * 20);
        let p = q.pop(100);
        assert_eq!(
            p.items.iter().map(n).collect::<Vec<_>>(),
            (10..30).collect::<Vec<_>>()
        );
    }
}
