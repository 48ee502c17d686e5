//! Typed errors of the model layer. Callers (the service, the eval tools) map
//! these onto their own error kinds; nothing here knows about HTTP.

use std::path::PathBuf;

/// Everything that can go wrong while installing, loading or running the embedder.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A file of the model directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// The model directory lacks a file the embedder needs.
    #[error("model file {0} is missing; install the model with `appeal-triage model install`")]
    MissingFile(PathBuf),
    /// The weights file is not a valid E5S1 container.
    #[error("invalid model container {path}: {reason}")]
    BadContainer {
        /// The weights file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The tokenizer file could not be parsed or used.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// Text at `index` of the batch was empty or only whitespace / control characters.
    #[error("text #{index} is empty (only whitespace or control characters)")]
    EmptyText {
        /// Position of the text in the batch.
        index: usize,
    },
    /// Text at `index` of the batch is not valid UTF-8.
    #[error("text #{index} is not valid UTF-8 (invalid byte at offset {offset})")]
    InvalidUtf8 {
        /// Position of the text in the batch.
        index: usize,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// Text at `index` exceeds the configured size limit.
    #[error("text #{index} is {len} bytes, over the limit of {limit} bytes")]
    TextTooLong {
        /// Position of the text in the batch.
        index: usize,
        /// Its size in bytes.
        len: usize,
        /// The configured limit ([`crate::EmbedderOptions::max_text_bytes`]).
        limit: usize,
    },
    /// The batch holds more texts than the configured limit.
    #[error("batch of {len} texts is over the limit of {limit}")]
    BatchTooLarge {
        /// Number of texts passed.
        len: usize,
        /// The configured limit ([`crate::EmbedderOptions::max_batch_texts`]).
        limit: usize,
    },
    /// An error from the tensor library.
    #[error("tensor computation: {0}")]
    Candle(#[from] candle_core::Error),
    /// Model installation failed.
    #[error("model install: {0}")]
    Install(String),
}

/// Result alias of the model layer.
pub type Result<T, E = ModelError> = std::result::Result<T, E>;

impl ModelError {
    /// Whether the input itself was refused (empty, not UTF-8, too long, too
    /// many texts): the same input fails again, so it is the caller's error,
    /// not the model's.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Self::EmptyText { .. }
                | Self::InvalidUtf8 { .. }
                | Self::TextTooLong { .. }
                | Self::BatchTooLarge { .. }
        )
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
