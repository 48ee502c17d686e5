//! The public embedder: text in, L2-normalised vectors out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::container::Container;
use crate::encoder::{Encoder, WeightFormat};
use crate::error::{ModelError, Result};
use crate::tokenize::WindowTokenizer;
use crate::Role;

/// File name of the weights inside a model directory.
pub const WEIGHTS_FILE: &str = "model.e5s1";
/// File name of the tokenizer inside a model directory.
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// Knobs of the embedder. The defaults suit the real model on a 2-core server.
#[derive(Debug, Clone)]
pub struct EmbedderOptions {
    /// How weight matrices are multiplied (default: 4-bit, see `docs/benchmarks.md`).
    pub weight_format: WeightFormat,
    /// Tokens shared by consecutive windows of a text longer than the model's
    /// positions (default 64).
    pub window_overlap: usize,
    /// Longest accepted text in bytes (default 65,536); longer is [`ModelError::TextTooLong`].
    pub max_text_bytes: usize,
    /// Most texts accepted in one call (default 16,384); more is [`ModelError::BatchTooLarge`].
    pub max_batch_texts: usize,
    /// Tokens run through the encoder in one forward pass (default 4,096): bounds memory.
    pub max_batch_tokens: usize,
}

impl Default for EmbedderOptions {
    fn default() -> Self {
        Self {
            weight_format: WeightFormat::default(),
            window_overlap: 64,
            max_text_bytes: 64 * 1024,
            max_batch_texts: 16 * 1024,
            max_batch_tokens: 4096,
        }
    }
}

/// Identifies the exact weights + tokenizer that produced a vector: the sha256 of
/// the weights file followed by the tokenizer file. Every stored vector and every
/// routing suggestion carries it, so vectors of different models are never mixed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint(String);

impl Fingerprint {
    /// Hex sha256 digest.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// First 12 hex digits, for logs and UI.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }

    fn of_files(files: &[&Path]) -> Result<Self> {
        crate::install::sha256_files(files).map(Self)
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A loaded model: tokenizer + encoder. `embed` takes `&self`; share it in an `Arc`.
pub struct Embedder {
    encoder: Encoder,
    tokenizer: WindowTokenizer,
    fingerprint: Fingerprint,
    options: EmbedderOptions,
    dir: PathBuf,
}

impl Embedder {
    /// Loads the model in `dir` (`model.e5s1` + `tokenizer.json`).
    pub fn load(dir: &Path, options: EmbedderOptions) -> Result<Self> {
        let weights = dir.join(WEIGHTS_FILE);
        let tokenizer = dir.join(TOKENIZER_FILE);
        for f in [&weights, &tokenizer] {
            if !f.is_file() {
                return Err(ModelError::MissingFile(f.clone()));
            }
        }
        let fingerprint = Fingerprint::of_files(&[&weights, &tokenizer])?;
        let container = Arc::new(Container::open(&weights)?);
        let tokenizer = WindowTokenizer::load(
            &tokenizer,
            container.special,
            container.config.max_positions,
            options.window_overlap,
        )?;
        let encoder = Encoder::load(container, options.weight_format)?;
        tracing::info!(
            dir = %dir.display(),
            fingerprint = fingerprint.short(),
            format = %options.weight_format,
            "embedder loaded"
        );
        Ok(Self {
            encoder,
            tokenizer,
            fingerprint,
            options,
            dir: dir.to_path_buf(),
        })
    }

    /// Width of the vectors (384 for e5-small).
    pub fn dim(&self) -> usize {
        self.encoder.config().hidden
    }

    /// The model fingerprint.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    /// The options the embedder was loaded with.
    pub fn options(&self) -> &EmbedderOptions {
        &self.options
    }

    /// The model directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Embeds raw byte strings, rejecting invalid UTF-8 with the offending index.
    pub fn embed_bytes(&self, texts: &[&[u8]], role: Role) -> Result<Vec<Vec<f32>>> {
        let strs = texts
            .iter()
            .enumerate()
            .map(|(index, b)| {
                std::str::from_utf8(b).map_err(|e| ModelError::InvalidUtf8 {
                    index,
                    offset: e.valid_up_to(),
                })
            })
            .collect::<Result<Vec<&str>>>()?;
        self.embed(&strs, role)
    }

    /// Embeds `texts` as `role`, returning one L2-normalised vector per text.
    ///
    /// Control characters (NUL included) are read as spaces; a text with nothing
    /// left is [`ModelError::EmptyText`]. Texts longer than the model's positions
    /// are embedded in overlapping windows whose vectors are averaged.
    pub fn embed(&self, texts: &[&str], role: Role) -> Result<Vec<Vec<f32>>> {
        self.embed_timed(texts, role).map(|(v, _)| v)
    }

    /// [`Embedder::embed`], also saying how long tokenising took (the rest of
    /// the call is the encoder), for the serving path's per-stage metrics.
    pub fn embed_timed(
        &self,
        texts: &[&str],
        role: Role,
    ) -> Result<(Vec<Vec<f32>>, std::time::Duration)> {
        let started = std::time::Instant::now();
        let cleaned = self.validate(texts)?;
        let refs: Vec<&str> = cleaned.iter().map(String::as_str).collect();
        let windows = self.tokenizer.windows(&refs, role)?;
        let tokenize = started.elapsed();
        let h = self.dim();
        let mut sums = vec![vec![0f32; h]; texts.len()];
        let mut counts = vec![0usize; texts.len()];
        // Longest first, packed up to the token budget: no padding is ever computed.
        let mut order: Vec<usize> = (0..windows.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(windows[i].ids.len()));
        let mut start = 0;
        while start < order.len() {
            let mut tokens = 0;
            let mut end = start;
            while end < order.len()
                && (end == start
                    || tokens + windows[order[end]].ids.len() <= self.options.max_batch_tokens)
            {
                tokens += windows[order[end]].ids.len();
                end += 1;
            }
            let batch: Vec<&[u32]> = order[start..end]
                .iter()
                .map(|&i| windows[i].ids.as_slice())
                .collect();
            let window_sums = self.encoder.forward_sums(&batch)?;
            for (&i, s) in order[start..end].iter().zip(window_sums) {
                let w = &windows[i];
                counts[w.text] += w.ids.len();
                for (a, b) in sums[w.text].iter_mut().zip(s) {
                    *a += b;
                }
            }
            start = end;
        }
        for (v, n) in sums.iter_mut().zip(counts) {
            let n = n.max(1) as f32;
            v.iter_mut().for_each(|x| *x /= n);
            l2_normalize(v);
        }
        Ok((sums, tokenize))
    }

    /// Number of tokens each text becomes (all windows, special tokens included).
    pub fn token_counts(&self, texts: &[&str], role: Role) -> Result<Vec<usize>> {
        let cleaned = self.validate(texts)?;
        let refs: Vec<&str> = cleaned.iter().map(String::as_str).collect();
        let mut counts = vec![0; texts.len()];
        for w in self.tokenizer.windows(&refs, role)? {
            counts[w.text] += w.ids.len();
        }
        Ok(counts)
    }

    fn validate(&self, texts: &[&str]) -> Result<Vec<String>> {
        if texts.len() > self.options.max_batch_texts {
            return Err(ModelError::BatchTooLarge {
                len: texts.len(),
                limit: self.options.max_batch_texts,
            });
        }
        texts
            .iter()
            .enumerate()
            .map(|(index, t)| {
                if t.len() > self.options.max_text_bytes {
                    return Err(ModelError::TextTooLong {
                        index,
                        len: t.len(),
                        limit: self.options.max_text_bytes,
                    });
                }
                let clean: String = t
                    .chars()
                    .map(|c| if c.is_control() { ' ' } else { c })
                    .collect();
                if clean.trim().is_empty() {
                    return Err(ModelError::EmptyText { index });
                }
                Ok(clean)
            })
            .collect()
    }
}

/// Scales `v` to unit length (leaves an all-zero vector as it is).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
