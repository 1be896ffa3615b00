//! The store on its own: what is written is there after a reopen.

use super::*;
use roost_core::storage::{ObjectStore, RetainedStore, SessionStore, StoredSession};
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
            store.save(
                StoredSession {
                    client_id: format!("c{i}"),
                    made_at_ms: 42,
                    record: vec![i as u8; 10],
                },
                Some(Box::new(move |r| tx.send(r.is_ok()).unwrap())),
            );
        }
        assert!((0..100).all(|_| rx.recv().unwrap()));
        store.delete("c7", None);
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
