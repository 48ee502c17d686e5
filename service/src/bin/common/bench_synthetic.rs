//! The synthetic case vectors of the bench binaries (included with `#[path]`;
//! not part of the library). Appeals cluster by topic, so cases are points
//! near one of [`TOPICS`] random centres; a bench that asks "what would a new
//! appeal cost" draws its queries from the same distribution, with another
//! seed, instead of from uniform noise that looks like no appeal at all.

/// Seed of the centres and of the stored cases (`bench-case-memory search`).
pub const SEED: u64 = 0x9e37_79b9_7f4a_7c15;
/// Topic centres.
pub const TOPICS: usize = 2000;

/// xorshift64*: deterministic and dependency-free.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The topic centres, drawn first from `rng` (seeded with [`SEED`]).
pub fn centres(rng: &mut Rng, dim: usize) -> Vec<Vec<f32>> {
    (0..TOPICS)
        .map(|_| {
            let mut v: Vec<f32> = (0..dim).map(|_| rng.unit()).collect();
            triage_models::l2_normalize(&mut v);
            v
        })
        .collect()
}

/// A unit vector near a random centre: one appeal.
pub fn perturbed(rng: &mut Rng, centres: &[Vec<f32>]) -> Vec<f32> {
    let c = &centres[rng.below(centres.len())];
    let mut v: Vec<f32> = c.iter().map(|x| x + 0.35 * rng.unit()).collect();
    triage_models::l2_normalize(&mut v);
    v
}
