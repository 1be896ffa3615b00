//! The durable store's two costly paths, through the store's own API (as the
//! sessions use it), without a broker around it:
//! - online: QoS 1 messages each put into one session's entries and removed
//!   again once acknowledged, `SESSIONS` sessions interleaved, as the writer
//!   gets them from busy subscribers (msgs/s through the writer, `sync: batch`
//!   and `sync: os`);
//! - restart: `SESSIONS` sessions each holding the same `PER` messages (one
//!   publisher to them all), then the store closed and opened again: the time
//!   to open it and to load every session (what start-up and restore cost).
//!
//! `cargo bench -p roost-storage --bench store_paths -- [online N] [restart SESSIONS PER]`
//! (defaults: online 200000 over 50 sessions; restart 20000 x 10).
use bytes::Bytes;
use roost_core::storage::{EntryMessage, EntryPut, SessionChanges, SessionStore};
use roost_core::Message;
use roost_protocol::{Properties, QoS};
use roost_storage::{DurableStorageConfig, Store, SyncPolicy};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

fn message(i: usize) -> Arc<Message> {
    Arc::new(Message::new(
        format!("bench/{}", i % 50).into(),
        Bytes::from(vec![b'x'; 64]),
        QoS::AtLeastOnce,
        false,
        "pub".into(),
        &Properties::default(),
    ))
}

/// The runtime's part of an entry: a few bytes (QoS, flags, packet id...).
const ENTRY: [u8; 10] = [1, 0, 0, 0, 1, 0, 7, 0, 0, 0];

fn config(sync: SyncPolicy) -> DurableStorageConfig {
    DurableStorageConfig {
        sync,
        ..DurableStorageConfig::default()
    }
}

/// `n` messages, each put into one of `sessions` sessions and removed once
/// `window` later messages of its session are in (acknowledged while
/// others are in flight). Returns msgs/s, counted until the last write is
/// durable.
fn online(n: usize, sessions: usize, window: usize, sync: SyncPolicy) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &config(sync)).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    // Per session: its next sequence number and what it holds (seq, id).
    let mut held: Vec<(u64, std::collections::VecDeque<(u64, u64)>)> =
        vec![(0, Default::default()); sessions];
    let t = Instant::now();
    for i in 0..n {
        let s = i % sessions;
        let client = format!("sub{s}");
        let (next, list) = &mut held[s];
        let mut changes = SessionChanges {
            record: None,
            put: vec![EntryPut {
                seq: *next,
                message: EntryMessage::New(message(i)),
                entry: ENTRY.to_vec(),
            }],
            remove: Vec::new(),
        };
        if list.len() >= window {
            changes.remove.push(list.pop_front().unwrap());
        }
        let d = done.clone();
        let ids = store.write(
            &client,
            changes,
            Some(Box::new(move |_| {
                d.fetch_add(1, Ordering::Relaxed);
            })),
        );
        list.push_back((*next, ids[0]));
        *next += 1;
    }
    store.flush_blocking();
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(done.load(Ordering::Relaxed), n);
    store.close();
    n as f64 / secs
}

/// Fills a store as the restart benchmark does, closes it, opens it again.
fn restart(sessions: usize, per: usize) {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    {
        let store = Store::open(dir.path(), &config(SyncPolicy::Os)).unwrap();
        let record = vec![3u8; 96];
        for s in 0..sessions {
            let changes = SessionChanges {
                record: Some((0, record.clone())),
                ..SessionChanges::default()
            };
            store.write(&format!("wave/{s}"), changes, None);
        }
        for i in 0..per {
            let m = message(i);
            for s in 0..sessions {
                let changes = SessionChanges {
                    record: None,
                    put: vec![EntryPut {
                        seq: i as u64,
                        message: EntryMessage::New(m.clone()),
                        entry: ENTRY.to_vec(),
                    }],
                    remove: Vec::new(),
                };
                store.write(&format!("wave/{s}"), changes, None);
            }
        }
        store.flush_blocking();
        store.close();
    }
    let filled = t.elapsed();
    let size = dir_size(dir.path());
    // The closed store's database is dropped by its writer thread just after
    // `close` returns: until then its lock file is held.
    let t = Instant::now();
    let store = loop {
        match Store::open(dir.path(), &config(SyncPolicy::Batch)) {
            Ok(s) => break s,
            Err(e) if e.to_string().contains("Locked") && t.elapsed().as_secs() < 30 => {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Err(e) => panic!("{e}"),
        }
    };
    let opened = t.elapsed();
    let t = Instant::now();
    let all = store.load_all().unwrap();
    let loaded = t.elapsed();
    let entries: usize = all.iter().map(|s| s.entries.len()).sum();
    assert_eq!(all.len(), sessions);
    assert_eq!(entries, sessions * per);
    store.close();
    println!(
        "restart {sessions} sessions x {per}: filled in {filled:?}, {size} bytes on disc, \
         open {opened:?}, load_all {loaded:?} ({entries} entries)"
    );
}

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => dir_size(&e.path()),
                    _ => e.metadata().map(|m| m.len()).unwrap_or(0),
                })
                .sum()
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let num = |i: usize, d: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(d);
    match args.first().map(String::as_str) {
        Some("online") => {
            let n = num(1, 200_000);
            for sync in [SyncPolicy::Batch, SyncPolicy::Os] {
                let r = online(n, 50, 32, sync);
                println!(
                    "online {n} msgs, 50 sessions, sync {}: {r:.0} msgs/s",
                    sync.as_str()
                );
            }
        }
        Some("restart") => restart(num(1, 20_000), num(2, 10)),
        _ => {
            let r = online(200_000, 50, 32, SyncPolicy::Batch);
            println!("online 200000 msgs, 50 sessions, sync batch: {r:.0} msgs/s");
            restart(20_000, 10);
        }
    }
}
