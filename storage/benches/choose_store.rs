//! fjall vs redb for Roost's write path: group-committed appends of 1 KB
//! values (one sync per batch), then the time to open and read them all back.
use redb::{ReadableDatabase, ReadableTable};
use std::time::Instant;

const N: usize = 100_000;
const BATCHES: [usize; 3] = [1, 64, 512];

fn key(i: usize) -> [u8; 8] {
    (i as u64).to_be_bytes()
}

fn fjall_run(batch: usize, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let value = vec![7u8; 1024];
    let t = Instant::now();
    {
        let db = fjall::Database::builder(dir.path()).open().unwrap();
        let ks = db
            .keyspace("m", fjall::KeyspaceCreateOptions::default)
            .unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(batch) {
            let mut b = db.batch().durability(Some(fjall::PersistMode::SyncData));
            for &i in chunk {
                b.insert(&ks, key(i), value.clone());
            }
            b.commit().unwrap();
        }
    }
    let w = t.elapsed();
    let t = Instant::now();
    let db = fjall::Database::builder(dir.path()).open().unwrap();
    let ks = db
        .keyspace("m", fjall::KeyspaceCreateOptions::default)
        .unwrap();
    let mut c = 0usize;
    for kv in ks.iter() {
        let (_k, v) = kv.into_inner().unwrap();
        c += v.len();
    }
    assert_eq!(c, n * 1024);
    let r = t.elapsed();
    let size = fs_extra(dir.path());
    println!(
        "fjall batch={batch:4} n={n}: {:8.0} msgs/s write, open+read {:?}, {:.1} MB",
        n as f64 / w.as_secs_f64(),
        r,
        size as f64 / 1e6
    );
}

const T: redb::TableDefinition<u64, &[u8]> = redb::TableDefinition::new("m");

fn redb_run(batch: usize, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("db.redb");
    let value = vec![7u8; 1024];
    let t = Instant::now();
    {
        let db = redb::Database::create(&path).unwrap();
        for chunk in (0..n).collect::<Vec<_>>().chunks(batch) {
            let tx = db.begin_write().unwrap();
            {
                let mut tb = tx.open_table(T).unwrap();
                for &i in chunk {
                    tb.insert(i as u64, value.as_slice()).unwrap();
                }
            }
            tx.commit().unwrap();
        }
    }
    let w = t.elapsed();
    let t = Instant::now();
    let db = redb::Database::create(&path).unwrap();
    let tx = db.begin_read().unwrap();
    let tb = tx.open_table(T).unwrap();
    let mut c = 0usize;
    for kv in tb.iter().unwrap() {
        let (_k, v) = kv.unwrap();
        c += v.value().len();
    }
    assert_eq!(c, n * 1024);
    let r = t.elapsed();
    let size = fs_extra(dir.path());
    println!(
        "redb  batch={batch:4} n={n}: {:8.0} msgs/s write, open+read {:?}, {:.1} MB",
        n as f64 / w.as_secs_f64(),
        r,
        size as f64 / 1e6
    );
}

fn fs_extra(p: &std::path::Path) -> u64 {
    let mut s = 0;
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        s += if m.is_dir() {
            fs_extra(&e.path())
        } else {
            m.len()
        };
    }
    s
}

fn main() {
    for b in BATCHES {
        let n = if b == 1 { 2_000 } else { N };
        fjall_run(b, n);
        redb_run(b, n);
    }
}
