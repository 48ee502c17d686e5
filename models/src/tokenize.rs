//! Text to token windows: the e5 prefix, the official XLM-R sentencepiece
//! tokenizer, and sliding windows for texts longer than the model's 512 positions.
//!
//! Long texts are not truncated: they are split into overlapping windows, each
//! carrying the role prefix, and the window vectors are averaged later (weighted by
//! their token counts), so the whole text counts.

use std::path::Path;

use tokenizers::Tokenizer;

use crate::container::SpecialTokens;
use crate::error::{ModelError, Result};
use crate::Role;

/// One model input: `[bos] prefix content [eos]`, and the text it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Index of the text in the caller's batch.
    pub text: usize,
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
}

/// Turns texts into windows of at most `max_positions` tokens.
pub struct WindowTokenizer {
    inner: Tokenizer,
    special: SpecialTokens,
    /// Content tokens per window (positions minus the two special tokens).
    window: usize,
    /// Tokens shared by consecutive windows of one long text.
    overlap: usize,
    query_prefix: Vec<u32>,
    passage_prefix: Vec<u32>,
}

impl WindowTokenizer {
    /// Loads `tokenizer.json`; `max_positions` and `special` come from the weights.
    pub fn load(
        path: &Path,
        special: SpecialTokens,
        max_positions: usize,
        overlap: usize,
    ) -> Result<Self> {
        if !path.exists() {
            return Err(ModelError::MissingFile(path.to_path_buf()));
        }
        let mut inner = Tokenizer::from_file(path)
            .map_err(|e| ModelError::Tokenizer(format!("{}: {e}", path.display())))?;
        inner
            .with_truncation(None)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        inner.with_padding(None);
        let window = max_positions
            .checked_sub(2)
            .filter(|w| *w > 8)
            .ok_or_else(|| ModelError::Tokenizer("max_positions too small".into()))?;
        let mut me = Self {
            inner,
            special,
            window,
            overlap,
            query_prefix: Vec::new(),
            passage_prefix: Vec::new(),
        };
        // The prefix alone ends in a bare "▁" that merges into the first word of
        // real text; its trimmed form ("passage:") is what every encoding starts with.
        me.query_prefix = me.encode(Role::Query.prefix().trim_end())?;
        me.passage_prefix = me.encode(Role::Passage.prefix().trim_end())?;
        if me.overlap + me.query_prefix.len().max(me.passage_prefix.len()) + 8 > window {
            return Err(ModelError::Tokenizer(format!(
                "window overlap {overlap} leaves no room in {window}-token windows"
            )));
        }
        Ok(me)
    }

    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode(text, false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        Ok(enc.get_ids().to_vec())
    }

    /// Content tokens per window.
    pub fn window_len(&self) -> usize {
        self.window
    }

    /// Tokenizes `texts` (already validated) with the role prefix and cuts them into windows.
    pub fn windows(&self, texts: &[&str], role: Role) -> Result<Vec<Window>> {
        let inputs: Vec<String> = texts
            .iter()
            .map(|t| format!("{}{t}", role.prefix()))
            .collect();
        let encodings = self
            .inner
            .encode_batch(inputs, false)
            .map_err(|e| ModelError::Tokenizer(e.to_string()))?;
        let prefix = match role {
            Role::Query => &self.query_prefix,
            Role::Passage => &self.passage_prefix,
        };
        let mut out = Vec::with_capacity(texts.len());
        for (text, enc) in encodings.iter().enumerate() {
            self.cut(text, enc.get_ids(), prefix, &mut out);
        }
        Ok(out)
    }

    /// Splits one text's content ids into windows (see the module docs).
    fn cut(&self, text: usize, content: &[u32], prefix: &[u32], out: &mut Vec<Window>) {
        let frame = |body: &[u32], prefix: &[u32]| {
            let mut ids = Vec::with_capacity(body.len() + prefix.len() + 2);
            ids.push(self.special.bos);
            ids.extend_from_slice(prefix);
            ids.extend_from_slice(body);
            ids.push(self.special.eos);
            Window { text, ids }
        };
        if content.len() <= self.window {
            out.push(frame(content, &[]));
            return;
        }
        let (prefix, body) = if content.starts_with(prefix) {
            (prefix, &content[prefix.len()..])
        } else {
            (&[][..], content)
        };
        let chunk = self.window - prefix.len();
        let stride = chunk - self.overlap;
        let mut start = 0;
        loop {
            let end = (start + chunk).min(body.len());
            out.push(frame(&body[start..end], prefix));
            if end == body.len() {
                break;
            }
            start += stride;
        }
    }
}
