//! The store on its own: what is written is there after a reopen.

use super::*;
use roost_core::storage::{
    EntryMessage, EntryPut, ObjectStore, RetainedStore, SessionChanges, SessionStore,
};
use roost_core::{Message, Metrics};
use roost_protocol::QoS;
use std::time::Duration;

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("roost-storage-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn sessions_objects_and_retained_survive_a_reopen() {
    let d = dir("reopen");
    let config = DurableStorageConfig::default();
    let limits = RetainLimits {
        max_retained_messages: 0,
        max_retained_bytes: 0,
        max_payload_size: 1 << 20,
        msg_expiry_interval: Duration::ZERO,
    };
    {
        let store = Store::open(&d, &config).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        for i in 0..100u32 {
            let tx = tx.clone();
            store.write(
                &format!("c{i}"),
                SessionChanges {
                    record: Some((42, vec![i as u8; 10])),
                    ..Default::default()
                },
                Some(Box::new(move |r| tx.send(r.is_ok()).unwrap())),
            );
        }
        assert!((0..100).all(|_| rx.recv().unwrap()));
        store.delete("c7", Vec::new(), None);
        store.put("users", b"[1,2]").unwrap();
        let retainer =
            DiscRetainer::open(store.clone(), limits.clone(), Arc::new(Metrics::default()))
                .unwrap();
        let m = Message::new(
            "a/b".into(),
            bytes::Bytes::from_static(b"hi"),
            QoS::AtLeastOnce,
            true,
            "pub".into(),
            &Default::default(),
        );
        retainer.retain(&Arc::new(m));
        store.close();
    }
    let store = Store::open(&d, &config).unwrap();
    let mut all = store.load_all().unwrap();
    all.sort_by(|a, b| a.client_id.cmp(&b.client_id));
    assert_eq!(all.len(), 99);
    assert!(all
        .iter()
        .all(|s| s.made_at_ms == 42 && s.record.len() == 10));
    assert!(!all.iter().any(|s| s.client_id == "c7"));
    assert_eq!(store.get("users").unwrap().as_deref(), Some(&b"[1,2]"[..]));
    let retainer = DiscRetainer::open(store.clone(), limits, Arc::new(Metrics::default())).unwrap();
    let got = retainer.matching("a/#");
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].payload[..], b"hi");
    let info = store.info();
    assert!(info.disk_size > 0);
    assert_eq!(info.sync, "batch");
    store.close();
    let _ = std::fs::remove_dir_all(&d);
}

fn message(payload: &'static [u8]) -> Arc<Message> {
    Arc::new(Message::new(
        "t".into(),
        bytes::Bytes::from_static(payload),
        QoS::AtLeastOnce,
        false,
        "pub".into(),
        &Default::default(),
    ))
}

fn put(seq: u64, m: &Arc<Message>) -> EntryPut {
    EntryPut {
        seq,
        message: EntryMessage::New(m.clone()),
        entry: vec![seq as u8],
    }
}

/// A message held by many sessions is inside the first one's entry and once
/// in the log for the others, shared at load, and deleted from the log with
/// the last entry that refers to it.
#[test]
fn a_message_is_stored_once_and_goes_with_its_last_reference() {
    let d = dir("shared-log");
    let config = DurableStorageConfig::default();
    let (a, b) = (message(b"one"), message(b"two"));
    let store = Store::open(&d, &config).unwrap();
    let mut ids = Vec::new();
    for i in 0..3u64 {
        let changes = SessionChanges {
            record: Some((1, vec![1])),
            put: vec![put(0, &a), put(1, &b)],
            remove: Vec::new(),
        };
        ids.push(store.write(&format!("s{i}"), changes, None));
    }
    // s0 holds both inline; s1 and s2 refer to the same two logged messages.
    assert_ne!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    store.flush_blocking();
    assert_eq!(store.info().messages, 2);
    assert_eq!(store.refs.lock().len(), 2);
    assert_eq!(store.refs.lock().inline_len(), 2);
    // s0 and s1 let go of `a`; s2 still holds it.
    for (i, held) in ids.iter().enumerate().take(2) {
        let changes = SessionChanges {
            remove: vec![(0, held[0])],
            ..Default::default()
        };
        store.write(&format!("s{i}"), changes, None);
    }
    // s2 is removed altogether: `a` goes, `b` stays for s0 and s1.
    store.delete("s2", vec![(0, ids[2][0]), (1, ids[2][1])], None);
    store.close();
    drop(store);

    let store = Store::open(&d, &config).unwrap();
    let mut all = store.load_all().unwrap();
    all.sort_by(|x, y| x.client_id.cmp(&y.client_id));
    assert_eq!(all.len(), 2);
    for s in &all {
        assert_eq!(s.entries.len(), 1);
        assert_eq!(s.entries[0].seq, 1);
        assert_eq!(&s.entries[0].message.payload[..], b"two");
        assert_eq!(s.entries[0].entry, vec![1]);
    }
    assert_eq!(all[0].entries[0].message_id, ids[0][1]);
    assert_eq!(all[1].entries[0].message_id, ids[1][1]);
    // One message in the log (s1's), one inline (s0's).
    assert_eq!(store.refs.lock().len(), 1);
    assert_eq!(store.refs.lock().inline_len(), 1);
    store.flush_blocking();
    assert_eq!(store.messages.iter().count(), 1);
    // A new message gets an id neither the log nor an entry has used.
    let c = message(b"three");
    let id = store.write(
        "s0",
        SessionChanges {
            put: vec![put(2, &c)],
            ..Default::default()
        },
        None,
    );
    assert!(id[0] > ids[1][1] && id[0] > ids[0][1]);
    store.close();
    let _ = std::fs::remove_dir_all(&d);
}

/// A message one session holds is one item (its entry), never a log item:
/// rewritten (queue -> window) it keeps its message; removed, nothing is
/// left; the message comes back from the entry after a reopen.
#[test]
fn a_message_one_session_holds_is_inside_its_entry() {
    let d = dir("inline");
    let config = DurableStorageConfig::default();
    let store = Store::open(&d, &config).unwrap();
    let (a, b) = (message(b"alone"), message(b"gone"));
    let ids = store.write(
        "s",
        SessionChanges {
            record: Some((1, vec![1])),
            put: vec![put(0, &a), put(1, &b)],
            remove: Vec::new(),
        },
        None,
    );
    // `a` moves into the window (its entry rewritten), `b` is acknowledged.
    store.write(
        "s",
        SessionChanges {
            put: vec![EntryPut {
                seq: 0,
                message: EntryMessage::Held(ids[0]),
                entry: vec![9],
            }],
            remove: vec![(1, ids[1])],
            ..Default::default()
        },
        None,
    );
    store.flush_blocking();
    assert_eq!(store.messages.iter().count(), 0);
    assert_eq!(store.entries.iter().count(), 1);
    assert_eq!(store.refs.lock().inline_len(), 1);
    store.close();
    drop(store);
    let store = Store::open(&d, &config).unwrap();
    let all = store.load_all().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].entries.len(), 1);
    let e = &all[0].entries[0];
    assert_eq!((e.seq, e.message_id), (0, ids[0]));
    assert_eq!(&e.message.payload[..], b"alone");
    assert_eq!(e.entry, vec![9]);
    // Released after the reopen, it leaves nothing behind.
    store.write(
        "s",
        SessionChanges {
            remove: vec![(0, ids[0])],
            ..Default::default()
        },
        None,
    );
    store.flush_blocking();
    assert_eq!(store.entries.iter().count(), 0);
    assert_eq!(store.refs.lock().inline_len(), 0);
    store.close();
    let _ = std::fs::remove_dir_all(&d);
}

/// An entry whose message is missing, and a message nobody refers to (what
/// a crash between two batches could leave), are removed at load.
#[test]
fn orphans_are_removed_at_load() {
    let d = dir("orphans");
    let config = DurableStorageConfig::default();
    let store = Store::open(&d, &config).unwrap();
    let m = message(b"x");
    store.write(
        "s",
        SessionChanges {
            record: Some((1, vec![1])),
            put: vec![put(0, &m)],
            remove: Vec::new(),
        },
        None,
    );
    // A session whose record went without its entries (its message inline).
    store.write(
        "gone",
        SessionChanges {
            record: Some((1, vec![1])),
            put: vec![put(0, &message(b"y"))],
            remove: Vec::new(),
        },
        None,
    );
    store.write_one(Space::Sessions, b"gone".to_vec(), None, None);
    // A message without an entry, an entry without a message.
    store.write_one(
        Space::Messages,
        999u64.to_be_bytes().to_vec(),
        Some(vec![0; 9]),
        None,
    );
    let mut bad = 5u64.to_be_bytes().to_vec();
    bad.push(7);
    store.write_one(Space::Entries, sessions_entry_key("s", 9), Some(bad), None);
    store.close();
    drop(store);
    let store = Store::open(&d, &config).unwrap();
    let all = store.load_all().unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].entries.len(), 1);
    assert_eq!(&all[0].entries[0].message.payload[..], b"x");
    assert_eq!(store.refs.lock().inline_len(), 1);
    store.flush_blocking();
    // `x` is inside s's entry: nothing is left in the log.
    assert_eq!(store.messages.iter().count(), 0);
    assert_eq!(store.entries.iter().count(), 1);
    store.close();
    let _ = std::fs::remove_dir_all(&d);
}

fn sessions_entry_key(client_id: &str, seq: u64) -> Vec<u8> {
    let mut k = (client_id.len() as u16).to_be_bytes().to_vec();
    k.extend_from_slice(client_id.as_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The message as an entry or the log stores it is postcard's encoding of
/// core's `MessageRecord` (what the load decodes), properties included.
#[test]
fn encoded_as_a_record() {
    use roost_core::message::MessageRecord;
    let mut props = roost_protocol::Properties::default();
    props.content_type = Some("text/plain".into());
    props.response_topic = Some("re/ply".into());
    props.correlation_data = Some(bytes::Bytes::from_static(b"\x00\x01corr"));
    props.payload_format_indicator = Some(1);
    props.user_properties = vec![("k".into(), "v".into()), ("a".into(), "b".into())];
    for props in [roost_protocol::Properties::default(), props] {
        let m = Message::new(
            "a/b/c".into(),
            bytes::Bytes::from(vec![7u8; 300]),
            QoS::ExactlyOnce,
            true,
            "publisher-1".into(),
            &props,
        );
        let ours = sessions::encode_message(&m);
        let record =
            postcard::to_stdvec(&MessageRecord::of(&m, std::time::Instant::now())).unwrap();
        assert_eq!(&ours[8..], &record[..]);
    }
}
