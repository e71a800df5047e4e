//! A small seeded random generator (xorshift64): reproducible demos and benchmarks without a
//! system call per number. Not for anything secret.

/// Seeded xorshift64.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    #[must_use]
    pub fn seeded(seed: u64) -> Self {
        Self(seed.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo { lo } else { lo + self.next_u64() % (hi - lo) }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        #[allow(clippy::cast_precision_loss)]
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let n = u64::try_from(items.len()).unwrap_or(1);
        &items[usize::try_from(self.range(0, n)).unwrap_or(0)]
    }

    /// A random (version 4) UUID as text.
    pub fn uuid_v4(&mut self) -> String {
        let bytes = (u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())).to_le_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let (mut a, mut b) = (Rng::seeded(7), Rng::seeded(7));
        let xs: Vec<u64> = (0..5).map(|_| a.range(0, 1000)).collect();
        assert_eq!(xs, (0..5).map(|_| b.range(0, 1000)).collect::<Vec<_>>());
        assert_ne!(xs, (0..5).map(|_| Rng::seeded(8).range(0, 1000)).collect::<Vec<_>>());
        let id = a.uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version 4: {id}");
    }
}
