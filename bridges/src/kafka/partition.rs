//! Choosing a record's partition, and cutting a partition's records into
//! produce requests.

use rskafka::record::Record;

/// `partition_strategy: key_dispatch`: murmur2 of the key, as the Java
/// client's default partitioner (and EMQX's) computes it, so the same key
/// lands on the same partition whoever produces it.
pub fn by_key(key: &[u8], partitions: &[i32]) -> i32 {
    let i = (murmur2(key) & 0x7fff_ffff) as usize % partitions.len();
    partitions[i]
}

/// `partition_strategy: random`.
pub fn random(partitions: &[i32]) -> i32 {
    partitions[rand::random_range(0..partitions.len())]
}

/// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2).
pub fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

/// Splits `records` into runs of at most `max_bytes` (approximately, as
/// rskafka sizes a record); a record larger than that goes alone.
pub fn chunks(records: Vec<Record>, max_bytes: usize) -> Vec<Vec<Record>> {
    let mut out: Vec<Vec<Record>> = Vec::new();
    let mut size = 0;
    for r in records {
        let n = r.approximate_size();
        match out.last_mut() {
            Some(last) if size + n <= max_bytes => {
                size += n;
                last.push(r);
            }
            _ => {
                size = n;
                out.push(vec![r]);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_the_java_client() {
        // Values from Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21") as i32, -973932308);
        assert_eq!(murmur2(b"foobar") as i32, -790332482);
        assert_eq!(murmur2(b"a-little-bit-long-string") as i32, -985981536);
        assert_eq!(murmur2(b"a-little-bit-longer-string") as i32, -1486304829);
        assert_eq!(
            murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8") as i32,
            -58897971
        );
        assert_eq!(murmur2(b"abc") as i32, 479470107);
    }

    #[test]
    fn chunks_respect_the_byte_limit() {
        let rec = |n: usize| Record {
            key: None,
            value: Some(vec![0; n]),
            headers: Default::default(),
            timestamp: rskafka::chrono::Utc::now(),
        };
        let out = chunks(vec![rec(40), rec(40), rec(40), rec(200), rec(10)], 100);
        let sizes: Vec<usize> = out.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![2, 1, 1, 1]);
    }
}
