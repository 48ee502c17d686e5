//! The BERT encoder of multilingual-e5-small on candle, run on *packed* batches:
//! the tokens of every window in a batch are stacked into one `[tokens, hidden]`
//! matrix with no padding, so the linear layers (nearly all the work) never
//! compute on pad tokens and see one large matrix; only attention looks at
//! window boundaries (see [`crate::attention`]).

use std::sync::Arc;

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType, QMatMul};
use candle_core::{CpuStorage, CustomOp1, Device, Layout, Module, Shape, Tensor};

use crate::attention::PackedAttention;
use crate::container::{dequantize_q4_0, BertConfig, Container, Q4_BLOCK, Q4_BLOCK_BYTES};
use crate::error::Result;
use crate::kernels::{Epilogue, PackedQ4};

/// How the 4-bit weight matrices are multiplied. Measurements behind the default
/// are in `docs/benchmarks.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightFormat {
    /// Keep the 4-bit weights and multiply with our int8 kernel
    /// ([`crate::kernels`]: AVX-512 VNNI / AVX2 / scalar, chosen at run time),
    /// activations quantised to int8 per 32-block on the fly. The default: fastest.
    #[default]
    Q4,
    /// Keep the ggml Q4_0 blocks and multiply with candle's own quantized matmul.
    Q4Candle,
    /// Dequantise to f32 at load (4x the memory) and use candle's f32 GEMM.
    F32,
}

impl std::str::FromStr for WeightFormat {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "q4" | "q4_0" => Ok(Self::Q4),
            "q4-candle" => Ok(Self::Q4Candle),
            "f32" => Ok(Self::F32),
            other => Err(format!(
                "unknown weight format {other:?} (expected q4, q4-candle or f32)"
            )),
        }
    }
}

impl std::fmt::Display for WeightFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Q4 => "q4",
            Self::Q4Candle => "q4-candle",
            Self::F32 => "f32",
        })
    }
}

/// One linear layer `y = x Wᵀ + b`, optionally followed by GELU.
enum Linear {
    /// Our int8 kernel; bias and GELU are applied inside it.
    Kernel(Q4Linear),
    /// A candle matmul, then bias and GELU as separate ops.
    Candle {
        weight: CandleWeight,
        bias: Tensor,
        gelu: bool,
    },
}

enum CandleWeight {
    Quantized(QMatMul),
    /// Stored transposed, `[in, out]`, so the GEMM reads it contiguously.
    Dense(Tensor),
}

/// [`crate::kernels::matmul_q4`] as a candle op on `[tokens, in]` inputs.
struct Q4Linear {
    weight: PackedQ4,
    bias: Vec<f32>,
    epilogue: Epilogue,
}

impl CustomOp1 for Q4Linear {
    fn name(&self) -> &'static str {
        "q4-linear"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(data), Some((a, b)), [m, k]) =
            (storage, layout.contiguous_offsets(), layout.dims())
        else {
            candle_core::bail!("q4-linear expects a contiguous 2-D f32 tensor");
        };
        let (m, n) = (*m, self.weight.rows());
        if *k != self.weight.cols() {
            candle_core::bail!(
                "q4-linear: input width {k}, weight expects {}",
                self.weight.cols()
            );
        }
        let mut y = vec![0f32; m * n];
        crate::kernels::matmul_q4(
            &data[a..b],
            m,
            &self.weight,
            Some(&self.bias),
            self.epilogue,
            &mut y,
        )
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok((CpuStorage::F32(y), Shape::from((m, n))))
    }
}

impl Linear {
    /// Builds a linear layer from row-major Q4_0 bytes of `[rows, cols]`.
    fn new(
        q4: &[u8],
        rows: usize,
        cols: usize,
        bias: Vec<f32>,
        format: WeightFormat,
        gelu: bool,
    ) -> Result<Self> {
        let dev = Device::Cpu;
        let weight = match format {
            WeightFormat::Q4 => {
                let weight = PackedQ4::from_q4_0(q4, rows, cols)
                    .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
                let epilogue = if gelu { Epilogue::Gelu } else { Epilogue::None };
                return Ok(Self::Kernel(Q4Linear {
                    weight,
                    bias,
                    epilogue,
                }));
            }
            WeightFormat::Q4Candle => {
                let qt = qtensor_from_ggml(GgmlDType::Q4_0, q4, vec![rows, cols], &dev)?;
                CandleWeight::Quantized(QMatMul::from_qtensor(qt)?)
            }
            WeightFormat::F32 => {
                let mut w = vec![0f32; rows * cols];
                dequantize_q4_0(q4, &mut w);
                let t = Tensor::from_vec(w, (rows, cols), &dev)?;
                CandleWeight::Dense(t.t()?.contiguous()?)
            }
        };
        Ok(Self::Candle {
            weight,
            bias: Tensor::from_vec(bias, rows, &dev)?,
            gelu,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (weight, bias, gelu) = match self {
            Self::Kernel(op) => return Ok(x.apply_op1_no_bwd(op)?),
            Self::Candle { weight, bias, gelu } => (weight, bias, *gelu),
        };
        let y = match weight {
            CandleWeight::Quantized(m) => m.forward(x)?,
            CandleWeight::Dense(w) => x.matmul(w)?,
        };
        let y = y.broadcast_add(bias)?;
        Ok(if gelu {
            y.apply_op1_no_bwd(&crate::math::Gelu)?
        } else {
            y
        })
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
}

impl LayerNorm {
    fn load(c: &Container, name: &str, hidden: usize, eps: f32) -> Result<Self> {
        let dev = Device::Cpu;
        Ok(Self {
            weight: Tensor::from_vec(c.f32s(&format!("{name}.w"), hidden)?, hidden, &dev)?,
            bias: Tensor::from_vec(c.f32s(&format!("{name}.b"), hidden)?, hidden, &dev)?,
            eps,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(candle_nn::ops::layer_norm(
            x,
            &self.weight,
            &self.bias,
            self.eps,
        )?)
    }
}

struct Layer {
    /// Q, K and V fused into one `[3 * hidden, hidden]` matrix.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    out_norm: LayerNorm,
}

/// A loaded encoder. Cheap to share between threads behind an `Arc`.
pub struct Encoder {
    config: BertConfig,
    container: Arc<Container>,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    emb_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl Encoder {
    /// Builds the encoder from a container; weight matrices in `format`.
    pub fn load(container: Arc<Container>, format: WeightFormat) -> Result<Self> {
        let cfg = container.config.clone();
        let (h, ff) = (cfg.hidden, cfg.intermediate);
        let c = &*container;
        // Validates the presence and size of the word table now, not at first use.
        c.q4_bytes("emb.word", cfg.vocab, h)?;
        let positions = c.f32s("emb.pos", cfg.max_positions * h)?;
        let token_type = c.f32s("emb.type", cfg.type_vocab * h)?;
        let eps = cfg.layer_norm_eps;
        let emb_norm = LayerNorm::load(c, "emb.ln", h, eps)?;
        let mut layers = Vec::with_capacity(cfg.layers);
        for l in 0..cfg.layers {
            let q4 = |n: &str, rows, cols| c.q4_bytes(&format!("l{l}.{n}.w"), rows, cols);
            let bias = |n: &str, len| c.f32s(&format!("l{l}.{n}.b"), len);
            let mut qkv_w = Vec::with_capacity(3 * h * h / Q4_BLOCK * Q4_BLOCK_BYTES);
            let mut qkv_b = Vec::with_capacity(3 * h);
            for part in ["q", "k", "v"] {
                qkv_w.extend_from_slice(q4(part, h, h)?);
                qkv_b.extend(bias(part, h)?);
            }
            layers.push(Layer {
                qkv: Linear::new(&qkv_w, 3 * h, h, qkv_b, format, false)?,
                attn_out: Linear::new(q4("ao", h, h)?, h, h, bias("ao", h)?, format, false)?,
                attn_norm: LayerNorm::load(c, &format!("l{l}.aln"), h, eps)?,
                ffn_in: Linear::new(q4("fi", ff, h)?, ff, h, bias("fi", ff)?, format, true)?,
                ffn_out: Linear::new(q4("fo", h, ff)?, h, ff, bias("fo", h)?, format, false)?,
                out_norm: LayerNorm::load(c, &format!("l{l}.oln"), h, eps)?,
            });
        }
        Ok(Self {
            config: cfg,
            container,
            positions,
            token_type,
            emb_norm,
            layers,
        })
    }

    /// Hyper-parameters of the encoder.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Word + position + type embeddings of the packed windows, `[tokens, hidden]`.
    fn embed_tokens(&self, windows: &[&[u32]]) -> Result<Tensor> {
        let h = self.config.hidden;
        let total: usize = windows.iter().map(|w| w.len()).sum();
        let row_bytes = h / Q4_BLOCK * Q4_BLOCK_BYTES;
        let table = self.container.q4_bytes("emb.word", self.config.vocab, h)?;
        let mut out = vec![0f32; total * h];
        let mut rows = out.chunks_exact_mut(h);
        for ids in windows {
            for (pos, &id) in ids.iter().enumerate() {
                let row = rows.next().expect("sized above");
                // Ids come from our tokenizer, whose vocabulary is smaller than the
                // table; an out-of-range id (a corrupt tokenizer) maps to `unk`.
                let id = if (id as usize) < self.config.vocab {
                    id
                } else {
                    self.container.special.unk
                } as usize;
                dequantize_q4_0(&table[id * row_bytes..(id + 1) * row_bytes], row);
                let p = &self.positions[pos * h..(pos + 1) * h];
                for ((x, p), t) in row.iter_mut().zip(p).zip(&self.token_type[..h]) {
                    *x += p + t;
                }
            }
        }
        Ok(Tensor::from_vec(out, (total, h), &Device::Cpu)?)
    }

    /// Runs the encoder over packed windows and returns, per window, the sum of its
    /// last hidden states (mean pooling is finished by the caller, which knows how
    /// windows group into texts). Every window must fit `max_positions`.
    pub fn forward_sums(&self, windows: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let h = self.config.hidden;
        let mut x = self.emb_norm.forward(&self.embed_tokens(windows)?)?;
        let lens: Arc<Vec<usize>> = Arc::new(windows.iter().map(|w| w.len()).collect());
        let attention = PackedAttention::new(lens.clone(), self.config.heads, h);
        for layer in &self.layers {
            let qkv = layer.qkv.forward(&x)?;
            let ctx = qkv.apply_op1_no_bwd(&attention)?;
            let a = layer.attn_out.forward(&ctx)?;
            x = layer.attn_norm.forward(&(a + &x)?)?;
            let f = layer.ffn_in.forward(&x)?;
            let f = layer.ffn_out.forward(&f)?;
            x = layer.out_norm.forward(&(f + &x)?)?;
        }
        let flat = x.flatten_all()?.to_vec1::<f32>()?;
        let mut sums = Vec::with_capacity(windows.len());
        let mut rows = flat.chunks_exact(h);
        for &len in lens.iter() {
            let mut s = vec![0f32; h];
            for row in rows.by_ref().take(len) {
                for (a, b) in s.iter_mut().zip(row) {
                    *a += b;
                }
            }
            sums.push(s);
        }
        Ok(sums)
    }
}
