//! TF-IDF features the way scikit-learn's `TfidfVectorizer` makes them, so the
//! baseline can be cross-checked against sklearn:
//!
//! * words: lower case, tokens of 2+ word characters (`(?u)\b\w\w+\b`), 1-2 grams;
//! * characters: `char_wb` 2-5 grams: each whitespace-separated word padded with
//!   one space each side, n-grams taken within it (a padded word not longer
//!   than n gives itself once, and no longer n-grams);
//! * counts -> sublinear tf `1 + ln(tf)` times smooth idf `ln((1 + n) / (1 + df)) + 1`,
//!   terms with `df < min_df` dropped, both blocks concatenated, then the row
//!   l2-normalised.

use std::collections::HashMap;

use rayon::prelude::*;

/// The terms of one document: word n-grams and char_wb n-grams, kept apart
/// (as sklearn's `FeatureUnion` does) so a word never collides with a char gram.
fn analyze(text: &str) -> (Vec<String>, Vec<String>) {
    let lower = text.to_lowercase();
    let mut tokens: Vec<&str> = Vec::new();
    let mut start = None;
    let mut chars = 0;
    for (i, c) in lower.char_indices() {
        if c.is_alphanumeric() || c == '_' {
            if start.is_none() {
                start = Some(i);
                chars = 0;
            }
            chars += 1;
        } else if let Some(s) = start.take() {
            if chars >= 2 {
                tokens.push(&lower[s..i]);
            }
        }
    }
    if let Some(s) = start {
        if chars >= 2 {
            tokens.push(&lower[s..]);
        }
    }
    let mut words: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    words.extend(tokens.windows(2).map(|w| format!("{} {}", w[0], w[1])));

    let mut grams = Vec::new();
    for w in lower.split_whitespace() {
        let padded: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        let len = padded.len();
        for n in 2..=5 {
            if len <= n {
                // sklearn emits a word no longer than n once and stops there.
                grams.push(padded.iter().collect());
                break;
            }
            for s in 0..=len - n {
                grams.push(padded[s..s + n].iter().collect());
            }
        }
    }
    (words, grams)
}

/// Term counts of one document, as sorted `(term, count)` runs.
fn counts(mut terms: Vec<String>) -> Vec<(String, u32)> {
    terms.sort_unstable();
    let mut out: Vec<(String, u32)> = Vec::new();
    for t in terms {
        match out.last_mut() {
            Some((last, n)) if *last == t => *n += 1,
            _ => out.push((t, 1)),
        }
    }
    out
}

/// A fitted vectorizer: vocabulary and idf.
#[derive(Debug, Clone)]
pub struct Tfidf {
    words: HashMap<String, u32>,
    chars: HashMap<String, u32>,
    idf: Vec<f32>,
}

impl Tfidf {
    /// Learns vocabulary and idf from documents given with their multiplicity
    /// (duplicates are passed once with a count; df counts them all).
    pub fn fit(docs: &[(&str, usize)], min_df: usize) -> Tfidf {
        type Df = (HashMap<String, usize>, HashMap<String, usize>);
        let (wdf, cdf): Df = docs
            .par_iter()
            .fold(Df::default, |(mut wdf, mut cdf), &(text, mult)| {
                let (w, c) = analyze(text);
                for (t, _) in counts(w) {
                    *wdf.entry(t).or_default() += mult;
                }
                for (t, _) in counts(c) {
                    *cdf.entry(t).or_default() += mult;
                }
                (wdf, cdf)
            })
            .reduce(Df::default, |(mut a, mut b), (c, d)| {
                for (t, n) in c {
                    *a.entry(t).or_default() += n;
                }
                for (t, n) in d {
                    *b.entry(t).or_default() += n;
                }
                (a, b)
            });
        let n_docs: usize = docs.iter().map(|d| d.1).sum();
        let mut idf = Vec::new();
        let mut vocab = |df: HashMap<String, usize>| {
            let mut kept: Vec<(String, usize)> =
                df.into_iter().filter(|(_, n)| *n >= min_df).collect();
            // Most frequent terms first: their weight rows, read for nearly every
            // document, sit together in memory (fewer cache and TLB misses).
            kept.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            kept.into_iter()
                .map(|(t, n)| {
                    let id = idf.len() as u32;
                    idf.push((((1 + n_docs) as f64 / (1 + n) as f64).ln() + 1.0) as f32);
                    (t, id)
                })
                .collect::<HashMap<String, u32>>()
        };
        let words = vocab(wdf);
        let chars = vocab(cdf);
        Tfidf { words, chars, idf }
    }

    /// Number of features.
    pub fn n_features(&self) -> usize {
        self.idf.len()
    }

    /// Word and char vocabulary sizes.
    pub fn vocabulary_sizes(&self) -> (usize, usize) {
        (self.words.len(), self.chars.len())
    }

    /// For each feature of `self`, the index of the same term in `old` (if
    /// there): carries weights over when a model is refitted on more data.
    pub fn remap_from(&self, old: &Tfidf) -> Vec<Option<u32>> {
        let mut map = vec![None; self.n_features()];
        for (new, prev) in [(&self.words, &old.words), (&self.chars, &old.chars)] {
            for (term, &j) in new {
                map[j as usize] = prev.get(term).copied();
            }
        }
        map
    }

    /// The l2-normalised TF-IDF row of `text`, sorted by feature.
    pub fn transform(&self, text: &str) -> Vec<(u32, f32)> {
        let (w, c) = analyze(text);
        let mut row: Vec<(u32, f32)> = Vec::new();
        for (vocab, terms) in [(&self.words, w), (&self.chars, c)] {
            for (t, n) in counts(terms) {
                if let Some(&j) = vocab.get(&t) {
                    row.push((j, (1.0 + (n as f32).ln()) * self.idf[j as usize]));
                }
            }
        }
        row.sort_unstable_by_key(|e| e.0);
        let norm = row.iter().map(|e| (e.1 as f64).powi(2)).sum::<f64>().sqrt() as f32;
        if norm > 0.0 {
            for e in &mut row {
                e.1 /= norm;
            }
        }
        row
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyzers_match_sklearn_by_hand() {
        // sklearn: word tokens of 2+ word chars ("a" dropped), then bigrams.
        let (w, c) = analyze("Яма, a  ДОМ");
        assert_eq!(w, ["яма", "дом", "яма дом"]);
        // char_wb 2-5 of " яма, " (6 chars), " a " (3: its 2-grams, then itself once, no more), " дом " (5).
        let c: Vec<&str> = c.iter().map(String::as_str).collect();
        assert_eq!(
            c,
            [
                " я", "ям", "ма", "а,", ", ", " ям", "яма", "ма,", "а, ", " яма", "яма,", "ма, ",
                " яма,", "яма, ", " a", "a ", " a ", " д", "до", "ом", "м ", " до", "дом", "ом ",
                " дом", "дом ", " дом ",
            ]
        );
    }

    #[test]
    fn tfidf_values_by_hand() {
        // Two docs "аа бб" (x2, counted twice) and "аа": n = 3.
        // df(аа) = 3 -> idf = ln(4/4) + 1 = 1; df(бб) = 2 -> idf = ln(4/3) + 1.
        let t = Tfidf::fit(&[("аа бб", 2), ("аа", 1)], 3);
        assert_eq!(t.vocabulary_sizes().0, 1, "only аа reaches min_df 3");
        let t = Tfidf::fit(&[("аа бб", 2), ("аа", 1)], 1);
        let row = t.transform("аа аа бб");
        let j_aa = t.words["аа"] as usize;
        let j_bb = t.words["бб"] as usize;
        let v: HashMap<usize, f32> = row.iter().map(|&(j, v)| (j as usize, v)).collect();
        let norm = row.iter().map(|e| e.1 * e.1).sum::<f32>();
        assert!((norm - 1.0).abs() < 1e-5);
        // Un-normalised: аа = (1 + ln 2) * 1, бб = 1 * (ln(4/3) + 1): their ratio survives normalisation.
        let want = (1.0 + 2f32.ln()) / ((4.0f32 / 3.0).ln() + 1.0);
        assert!((v[&j_aa] / v[&j_bb] - want).abs() < 1e-5);
        assert!(t.transform("").is_empty());
        // Remapping: аа and бб keep their terms across vocabularies; вв is new.
        let bigger = Tfidf::fit(&[("вв аа бб", 1)], 1);
        let map = bigger.remap_from(&t);
        assert_eq!(map[bigger.words["аа"] as usize], Some(j_aa as u32));
        assert_eq!(map[bigger.words["бб"] as usize], Some(j_bb as u32));
        assert_eq!(map[bigger.words["вв"] as usize], None);
        assert_eq!(map[bigger.chars[" аа "] as usize], Some(t.chars[" аа "]));
    }
}
