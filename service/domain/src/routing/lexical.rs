//! A lexical model: hashed TF-IDF word and character n-grams plus the place,
//! into a softmax over the same labels as the embedding head.
//!
//! A small sentence embedding blurs exactly what often decides the competent
//! body: street and organisation names, abbreviations ("ТСЖ", "ГАТИ"), typos
//! of both. Character n-grams keep them. The two models err differently, so
//! their product is better than either (docs/routing.md has the numbers).
//!
//! Features are hashed (no vocabulary to store or to grow): word unigrams and
//! bigrams, and character 2-5 grams of each word padded with spaces, each with
//! a sublinear term frequency times the inverse document frequency of its
//! bucket (buckets seen in fewer than two training documents are dropped),
//! l2-normalised together with one (district, word) and one (municipality,
//! word) crossing per distinct word (the topics a district's own bodies take
//! differ by district, and within it by municipality), plus one-hot district
//! and municipality features. The weights are fitted by
//! AdaGrad on mini-batches touching only the rows of the features present,
//! and stored quantised to 8 bits per weight with a scale per row.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::head::softmax_in_place;

/// Hash buckets of the feature space (2^18).
const BUCKETS: usize = 1 << 18;

/// A sparse feature vector: `(bucket, value)`, buckets ascending and unique.
pub type SparseVec = Vec<(u32, f32)>;

/// Options of a fit.
#[derive(Debug, Clone, PartialEq)]
pub struct LexicalFitOptions {
    /// Passes over the data.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// AdaGrad learning rate.
    pub learning_rate: f32,
    /// L2 penalty per example (applied to the rows a batch touches).
    pub l2: f32,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for LexicalFitOptions {
    fn default() -> Self {
        Self {
            epochs: 5,
            batch: 64,
            learning_rate: 0.2,
            l2: 1e-6,
            seed: 11,
        }
    }
}

/// A fitted lexical model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LexicalHead {
    /// Labels, in column order.
    pub classes: Vec<String>,
    /// `(bucket, idf)` of the buckets kept, ascending.
    idf: Vec<(u32, f32)>,
    /// Per kept bucket: the scale of its quantised row.
    scales: Vec<f32>,
    /// Quantised weights, `idf.len() x classes.len()`, stored as base64.
    #[serde(with = "packed")]
    weights: Vec<i8>,
    bias: Vec<f32>,
    /// Row of each kept bucket (rebuilt on load).
    #[serde(skip)]
    rows: HashMap<u32, usize>,
}

/// Lower-cased word tokens of two or more letters or digits.
fn words(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_string)
        .collect()
}

/// FNV-1a, with a namespace byte so a word, an n-gram, a place and a crossing
/// of the same spelling hash apart (distinct keys may still collide after the
/// modulo, as with any hashed feature space).
fn bucket(namespace: u8, parts: &[&str]) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ namespace as u64;
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        for b in p.as_bytes() {
            h ^= *b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    }
    (h % BUCKETS as u64) as u32
}

/// Raw term counts of the hashed features of a text's [`words`].
fn counts(ws: &[String]) -> HashMap<u32, f32> {
    let mut out: HashMap<u32, f32> = HashMap::new();
    for (i, w) in ws.iter().enumerate() {
        *out.entry(bucket(1, &[w])).or_default() += 1.0;
        if let Some(next) = ws.get(i + 1) {
            *out.entry(bucket(2, &[w, next])).or_default() += 1.0;
        }
        let padded: Vec<char> = std::iter::once(' ')
            .chain(w.chars())
            .chain(std::iter::once(' '))
            .collect();
        for n in 2..=5 {
            if padded.len() < n {
                break;
            }
            for win in padded.windows(n) {
                let s: String = win.iter().collect();
                *out.entry(bucket(3, &[&s])).or_default() += 1.0;
            }
        }
    }
    out
}

/// Where a text is about, as the lexical model sees it: the district and the
/// municipality within it, each optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LexicalPlace<'a> {
    /// District.
    pub district: Option<&'a str>,
    /// Municipality (keyed together with the district: two districts may
    /// number their municipalities alike).
    pub municipality: Option<&'a str>,
    /// The portal's category path, general to specific (empty: none).
    pub category: &'a [String],
}

impl<'a> LexicalPlace<'a> {
    /// Only a district.
    pub fn district(district: Option<&'a str>) -> Self {
        Self {
            district,
            ..Self::default()
        }
    }

    fn district_name(&self) -> Option<&'a str> {
        self.district.filter(|d| !d.is_empty())
    }

    fn municipality_name(&self) -> Option<&'a str> {
        self.municipality.filter(|m| !m.is_empty())
    }

    /// The category's levels as keyed: trimmed and lower-cased, each level
    /// with its parents (two parents may have a child of the same name).
    fn category_prefixes(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.category.len());
        let mut prefix = String::new();
        for level in self.category {
            if !prefix.is_empty() {
                prefix.push('\u{1f}');
            }
            prefix.push_str(&super::category::normalise(level));
            out.push(prefix.clone());
        }
        out
    }

    /// The one-hot buckets of the place and category: district,
    /// municipality, each level of the category path, and the deepest level
    /// crossed with the district (the department of a category differs by
    /// district: housing agencies).
    fn buckets(&self) -> impl Iterator<Item = u32> + '_ {
        let d = self.district_name();
        let m = self.municipality_name();
        let prefixes = self.category_prefixes();
        let crossing = d
            .zip(prefixes.last())
            .map(|(d, leaf)| bucket(9, &[leaf, d]));
        d.map(|d| bucket(4, &[d]))
            .into_iter()
            .chain(m.map(|m| bucket(6, &[d.unwrap_or(""), m])))
            .chain(prefixes.into_iter().map(|p| bucket(8, &[&p])))
            .chain(crossing)
    }
}

/// Counts of a text's features: [`counts`] plus, when the district is known,
/// one (district, word) feature per distinct word, and likewise one
/// (municipality, word) feature when the municipality is. A linear model over
/// text and district alone adds the two up; these crossings let it learn that
/// in one district a topic goes to the administration and in another to the
/// housing agency, which is the most frequent confusion on the dev data. The
/// split also differs between municipalities of one district (graffiti: 11%
/// to the administration in one, 61% in another), hence the finer crossing:
/// +0.2 to +0.4 points top-1 on the February test month over the district
/// alone (docs/routing.md, session 7).
fn counts_in(text: &str, place: LexicalPlace<'_>) -> HashMap<u32, f32> {
    let ws = words(text);
    let mut out = counts(&ws);
    let d = place.district_name();
    if let Some(d) = d {
        for w in &ws {
            out.insert(bucket(5, &[d, w]), 1.0);
        }
    }
    if let Some(m) = place.municipality_name() {
        for w in &ws {
            out.insert(bucket(7, &[d.unwrap_or(""), m, w]), 1.0);
        }
    }
    out
}

/// Document frequencies of buckets over a corpus.
fn document_frequencies(docs: &[HashMap<u32, f32>]) -> HashMap<u32, u32> {
    let mut df: HashMap<u32, u32> = HashMap::new();
    for d in docs {
        for b in d.keys() {
            *df.entry(*b).or_default() += 1;
        }
    }
    df
}

impl LexicalHead {
    /// Fits on texts with their places, labelled by `ys` (indices into
    /// `classes`). `None` when there is nothing to learn.
    pub fn fit(
        texts: &[&str],
        places: &[LexicalPlace<'_>],
        ys: &[usize],
        classes: Vec<String>,
        opts: &LexicalFitOptions,
    ) -> Option<Self> {
        let c = classes.len();
        let n = texts.len();
        if n == 0 || c < 2 || ys.len() != n || places.len() != n || ys.iter().any(|&y| y >= c) {
            return None;
        }
        let raw: Vec<HashMap<u32, f32>> = texts
            .iter()
            .zip(places)
            .map(|(t, p)| counts_in(t, *p))
            .collect();
        let df = document_frequencies(&raw);
        let mut idf: Vec<(u32, f32)> = df
            .into_iter()
            .filter(|&(_, f)| f >= 2)
            .map(|(b, f)| (b, ((1.0 + n as f32) / (1.0 + f as f32)).ln() + 1.0))
            .collect();
        let mut seen: Vec<u32> = places.iter().flat_map(|p| p.buckets()).collect();
        seen.sort_unstable();
        seen.dedup();
        idf.extend(seen.into_iter().map(|b| (b, 0.0)));
        // A place's bucket can collide with a text feature's: the text's idf
        // wins (the place's one-hot uses the row either way). Ordered on both
        // fields, not only the bucket: `df` comes out of a hash map in a
        // different order every run, and the fit must not depend on it.
        idf.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
        idf.dedup_by_key(|e| e.0);
        let rows: HashMap<u32, usize> = idf.iter().enumerate().map(|(i, (b, _))| (*b, i)).collect();
        let mut head = Self {
            classes,
            idf,
            scales: Vec::new(),
            weights: Vec::new(),
            bias: vec![0.0; c],
            rows,
        };
        let xs: Vec<Vec<(usize, f32)>> = raw
            .iter()
            .zip(places)
            .map(|(r, p)| head.rows_of(r, *p))
            .collect();
        let w = head.train(&xs, ys, opts);
        head.quantise(&w);
        Some(head)
    }

    /// The model's input for a text and place: `(row, value)` pairs.
    fn rows_of(&self, counts: &HashMap<u32, f32>, place: LexicalPlace<'_>) -> Vec<(usize, f32)> {
        let mut x: Vec<(usize, f32)> = counts
            .iter()
            .filter_map(|(b, tf)| {
                let row = *self.rows.get(b)?;
                let idf = self.idf[row].1;
                (idf > 0.0).then(|| (row, (1.0 + tf.ln()) * idf))
            })
            .collect();
        // Sorted first: the sum below then runs in one order, so a text always
        // gets bit-identical features.
        x.sort_unstable_by_key(|e| e.0);
        let norm = x.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            x.iter_mut().for_each(|(_, v)| *v /= norm);
        }
        x.extend(
            place
                .buckets()
                .filter_map(|b| self.rows.get(&b))
                .map(|row| (*row, 1.0)),
        );
        x.sort_unstable_by_key(|e| e.0);
        x
    }

    /// Features of a text and place, for [`LexicalHead::predict`].
    pub fn features(&self, text: &str, place: LexicalPlace<'_>) -> SparseVec {
        self.rows_of(&counts_in(text, place), place)
            .into_iter()
            .map(|(r, v)| (r as u32, v))
            .collect()
    }

    /// Class probabilities for features from [`LexicalHead::features`].
    pub fn predict(&self, x: &SparseVec) -> Vec<f32> {
        let c = self.classes.len();
        let mut z = self.bias.clone();
        for &(row, v) in x {
            let row = row as usize;
            let Some(scale) = self.scales.get(row) else {
                continue;
            };
            let s = v * scale;
            for (zk, w) in z.iter_mut().zip(&self.weights[row * c..(row + 1) * c]) {
                *zk += s * *w as f32;
            }
        }
        softmax_in_place(&mut z);
        z
    }

    fn train(&self, xs: &[Vec<(usize, f32)>], ys: &[usize], opts: &LexicalFitOptions) -> Vec<f32> {
        let c = self.classes.len();
        let rows = self.idf.len();
        let mut w = vec![0f32; rows * c];
        let mut g2 = vec![1e-8f32; rows * c];
        let mut bias = vec![0f32; c];
        let mut bias_g2 = vec![1e-8f32; c];
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = opts.seed.max(1);
        let mut grad: HashMap<usize, Vec<f32>> = HashMap::new();
        let mut z = vec![0f32; c];
        for _ in 0..opts.epochs {
            // Fisher-Yates with xorshift: reproducible without a dependency.
            for i in (1..order.len()).rev() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                order.swap(i, (rng % (i as u64 + 1)) as usize);
            }
            for batch in order.chunks(opts.batch.max(1)) {
                grad.clear();
                let mut gb = vec![0f32; c];
                for &i in batch {
                    z.copy_from_slice(&bias);
                    for &(row, v) in &xs[i] {
                        for (zk, wk) in z.iter_mut().zip(&w[row * c..(row + 1) * c]) {
                            *zk += v * wk;
                        }
                    }
                    softmax_in_place(&mut z);
                    z[ys[i]] -= 1.0;
                    for (g, zk) in gb.iter_mut().zip(&z) {
                        *g += zk;
                    }
                    for &(row, v) in &xs[i] {
                        let g = grad.entry(row).or_insert_with(|| vec![0.0; c]);
                        for (gk, zk) in g.iter_mut().zip(&z) {
                            *gk += v * zk;
                        }
                    }
                }
                let scale = 1.0 / batch.len() as f32;
                for (row, g) in &grad {
                    let ws = &mut w[row * c..(row + 1) * c];
                    let ss = &mut g2[row * c..(row + 1) * c];
                    for k in 0..c {
                        let gk = g[k] * scale + opts.l2 * ws[k];
                        ss[k] += gk * gk;
                        ws[k] -= opts.learning_rate * gk / ss[k].sqrt();
                    }
                }
                for k in 0..c {
                    let gk = gb[k] * scale;
                    bias_g2[k] += gk * gk;
                    bias[k] -= opts.learning_rate * gk / bias_g2[k].sqrt();
                }
            }
        }
        // The bias is kept exactly; only the row weights are quantised.
        let mut out = w;
        out.extend_from_slice(&bias);
        out
    }

    fn quantise(&mut self, w: &[f32]) {
        let c = self.classes.len();
        let rows = self.idf.len();
        self.bias = w[rows * c..].to_vec();
        self.scales = Vec::with_capacity(rows);
        self.weights = Vec::with_capacity(rows * c);
        for r in 0..rows {
            let row = &w[r * c..(r + 1) * c];
            let max = row.iter().fold(0f32, |m, x| m.max(x.abs()));
            let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
            self.scales.push(scale);
            self.weights.extend(
                row.iter()
                    .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8),
            );
        }
    }

    /// Restores the look-up table of a deserialised value.
    pub fn reindexed(mut self) -> Self {
        self.rows = self
            .idf
            .iter()
            .enumerate()
            .map(|(i, (b, _))| (*b, i))
            .collect();
        self
    }
}

/// Serde for the quantised weights: base64 of the bytes (a JSON array of
/// numbers would be three to four times larger).
mod packed {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(w: &[i8], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = w.iter().map(|&b| b as u8).collect();
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<i8>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)?;
        Ok(bytes.into_iter().map(|b| b as i8).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_embedding_blurs_are_learned_and_survive_storage() {
        let texts = [
            "протечка крыши ТСЖ Ленинградские вечера",
            "ТСЖ Ленинградские вечера не чинит крышу",
            "яма на дороге улица Савушкина",
            "дорога разбита на улице Савушкина яма",
            "мусор во дворе не вывозят",
            "не вывозят мусор контейнеры полные",
        ];
        let ys = [0, 0, 1, 1, 2, 2];
        let classes = vec!["housing".into(), "roads".into(), "waste".into()];
        let districts = [Some("A"), Some("A"), Some("B"), Some("B"), None, None];
        let opts = LexicalFitOptions {
            epochs: 60,
            ..LexicalFitOptions::default()
        };
        // Every token appears in two documents, so min-df keeps them.
        let places = districts.map(LexicalPlace::district);
        let head = LexicalHead::fit(&texts, &places, &ys, classes, &opts).unwrap();
        let nowhere = LexicalPlace::default();
        let p = head.predict(&head.features("тсж ленинградские вечера опять", nowhere));
        assert!(p[0] > 0.5, "{p:?}");
        let p = head.predict(&head.features("савушкина яма", LexicalPlace::district(Some("B"))));
        assert!(p[1] > 0.5, "{p:?}");
        let json = serde_json::to_string(&head).unwrap();
        let back: LexicalHead = serde_json::from_str::<LexicalHead>(&json)
            .unwrap()
            .reindexed();
        assert_eq!(back, head);
        assert_eq!(
            back.predict(&back.features("мусор во дворе", nowhere)),
            head.predict(&head.features("мусор во дворе", nowhere))
        );
    }

    /// Fits (text, place, class) cases over two classes, administration (0)
    /// and agency (1), with enough epochs for a handful of cases.
    fn fit_local_bodies(cases: &[(String, LexicalPlace<'_>, usize)]) -> LexicalHead {
        let texts: Vec<&str> = cases.iter().map(|c| c.0.as_str()).collect();
        let places: Vec<LexicalPlace<'_>> = cases.iter().map(|c| c.1).collect();
        let ys: Vec<usize> = cases.iter().map(|c| c.2).collect();
        let opts = LexicalFitOptions {
            epochs: 40,
            ..LexicalFitOptions::default()
        };
        let classes = vec!["administration".into(), "agency".into()];
        LexicalHead::fit(&texts, &places, &ys, classes, &opts).unwrap()
    }

    #[test]
    fn a_topic_can_go_to_different_bodies_in_different_districts() {
        // In A the courtyard is the administration's and the roof the agency's;
        // in B the other way round. Text and district added up cannot say
        // this (each word and each district is as often one as the other);
        // the (district, word) crossings can.
        let mut cases = Vec::new();
        for i in 0..6 {
            for (d, courtyard, roof) in [("A", 0, 1), ("B", 1, 0)] {
                let place = LexicalPlace::district(Some(d));
                cases.push((format!("грязный двор номер {i}"), place, courtyard));
                cases.push((format!("течёт крыша номер {i}"), place, roof));
            }
        }
        let head = fit_local_bodies(&cases);
        let p = |text: &str, d: &str| {
            head.predict(&head.features(text, LexicalPlace::district(Some(d))))
        };
        for (text, d, class) in [
            ("грязный двор", "A", 0),
            ("грязный двор", "B", 1),
            ("течёт крыша", "A", 1),
            ("течёт крыша", "B", 0),
        ] {
            let probs = p(text, d);
            assert!(probs[class] > 0.7, "{text} in {d}: {probs:?}");
        }
    }

    #[test]
    fn the_category_and_its_district_crossing_are_learned() {
        // The same words; the portal's category decides, and within one
        // category the district names the body.
        let roads = ["Благоустройство".to_string(), "Дороги".to_string()];
        let yards = ["Благоустройство".to_string(), "Дворы".to_string()];
        fn at<'a>(category: &'a [String], d: &'a str) -> LexicalPlace<'a> {
            LexicalPlace {
                district: Some(d),
                category,
                ..LexicalPlace::default()
            }
        }
        let mut cases = Vec::new();
        for i in 0..8 {
            let text = format!("грязно и ямы номер {i}");
            cases.push((text.clone(), at(&roads, "A"), 0));
            cases.push((text.clone(), at(&roads, "B"), 0));
            cases.push((text.clone(), at(&yards, "A"), 1));
            cases.push((text, at(&yards, "B"), 0));
        }
        let head = fit_local_bodies(&cases);
        let p = |category: &[String], d: &str| {
            head.predict(&head.features("грязно и ямы", at(category, d)))
        };
        assert!(p(&roads, "A")[0] > 0.7, "{:?}", p(&roads, "A"));
        assert!(p(&yards, "A")[1] > 0.7, "{:?}", p(&yards, "A"));
        assert!(p(&yards, "B")[0] > 0.7, "{:?}", p(&yards, "B"));
    }

    #[test]
    fn the_municipality_tells_apart_what_the_district_cannot() {
        // One district, two municipalities: the same complaint goes to the
        // administration in one and to the agency in the other.
        let mut cases = Vec::new();
        for i in 0..8 {
            for (m, class) in [("M1", 0), ("M2", 1)] {
                let place = LexicalPlace {
                    district: Some("A"),
                    municipality: Some(m),
                    ..LexicalPlace::default()
                };
                cases.push((format!("надписи на стене дома номер {i}"), place, class));
            }
        }
        let head = fit_local_bodies(&cases);
        let p = |m: Option<&str>| {
            let place = LexicalPlace {
                district: Some("A"),
                municipality: m,
                ..LexicalPlace::default()
            };
            head.predict(&head.features("надписи на стене", place))
        };
        assert!(p(Some("M1"))[0] > 0.7, "{:?}", p(Some("M1")));
        assert!(p(Some("M2"))[1] > 0.7, "{:?}", p(Some("M2")));
        // Unknown or absent: the district alone, which cannot tell.
        for m in [None, Some("M3")] {
            assert!((p(m)[0] - 0.5).abs() < 0.15, "{m:?}: {:?}", p(m));
        }
    }

    #[test]
    fn a_place_colliding_with_a_word_gives_the_same_model_every_fit() {
        // Find a word whose bucket is the district's (2^18 buckets: a few
        // hundred thousand tries at most).
        let district = bucket(4, &["A"]);
        let word = (0u64..)
            .map(|i| format!("w{i}"))
            .find(|w| bucket(1, &[w]) == district)
            .unwrap();
        let texts = [
            format!("{word} яма на дороге"),
            format!("яма {word} дорога"),
            "нет воды в доме".to_string(),
            "воды нет в доме".to_string(),
        ];
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let places = [Some("A"), Some("B"), Some("A"), Some("B")].map(LexicalPlace::district);
        let classes = vec!["roads".to_string(), "water".to_string()];
        let fit = || {
            LexicalHead::fit(
                &refs,
                &places,
                &[0, 0, 1, 1],
                classes.clone(),
                &Default::default(),
            )
        };
        let first = fit().unwrap();
        // The text's idf, not the one-hot's 0, holds the shared row.
        let row = first.rows[&district];
        assert!(first.idf[row].1 > 0.0, "{:?}", first.idf[row]);
        for _ in 0..8 {
            assert_eq!(fit().unwrap(), first);
        }
    }

    #[test]
    fn nothing_to_learn_is_none() {
        assert!(LexicalHead::fit(
            &[],
            &[],
            &[],
            vec!["a".into(), "b".into()],
            &Default::default()
        )
        .is_none());
        assert!(LexicalHead::fit(
            &["x y"],
            &[LexicalPlace::default()],
            &[0],
            vec!["a".into()],
            &Default::default()
        )
        .is_none());
    }
}
