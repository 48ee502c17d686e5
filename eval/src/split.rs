//! Honest train/test splits: by time, by two files, or grouped k-fold so that
//! exact duplicate texts never sit on both sides (28% of the dev texts are
//! duplicates; a random split would leak them).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use crate::error::SplitError;
use crate::router::LabelledAppeal;
use crate::timeparse::format_ms;

/// One train/test pair, both in time order (ties keep file order).
#[derive(Debug, Clone)]
pub struct Fold {
    /// 0-based fold number (always 0 for time and file splits).
    pub index: usize,
    /// Rows to fit on.
    pub train: Vec<LabelledAppeal>,
    /// Rows to predict.
    pub test: Vec<LabelledAppeal>,
}

/// First and last creation time of a side, RFC 3339 UTC.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Period {
    /// Earliest `created_at`.
    pub from: String,
    /// Latest `created_at`.
    pub to: String,
}

/// Test labels absent from train: these examples cannot be predicted right.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct UnseenLabels {
    /// Test examples whose label never occurs in their fold's train part.
    pub n_examples: usize,
    /// Those labels with their test counts, most frequent first.
    pub labels: Vec<(String, usize)>,
}

/// Sizes and periods of one fold, for the report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FoldInfo {
    /// 0-based fold number.
    pub index: usize,
    /// Train rows.
    pub n_train: usize,
    /// Test rows.
    pub n_test: usize,
    /// Train period.
    pub train_period: Period,
    /// Test period.
    pub test_period: Period,
    /// Test labels unseen in train.
    pub unseen_test_labels: UnseenLabels,
}

/// How the data was split; written verbatim into `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SplitInfo {
    /// `time`, `files` or `group_kfold`.
    pub rule: String,
    /// The rule in words, e.g. `train: created_at < 2021-02-01T00:00:00Z; ...`.
    pub description: String,
    /// Rows read (both files for `files`).
    pub n_rows: usize,
    /// Rows in neither side (between `train_until` and `test_from`).
    pub n_dropped: usize,
    /// Total train rows over folds (= train rows for a single split).
    pub n_train: usize,
    /// Total test rows over folds; every test row is predicted exactly once.
    pub n_test: usize,
    /// Per fold detail (one entry unless `group_kfold`).
    pub folds: Vec<FoldInfo>,
}

fn period(rows: &[LabelledAppeal]) -> Period {
    let min = rows.iter().map(|r| r.created_at).min().unwrap_or(0);
    let max = rows.iter().map(|r| r.created_at).max().unwrap_or(0);
    Period {
        from: format_ms(min),
        to: format_ms(max),
    }
}

fn unseen(train: &[LabelledAppeal], test: &[LabelledAppeal]) -> UnseenLabels {
    let known: BTreeSet<&str> = train.iter().map(|r| r.label.as_str()).collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in test.iter().filter(|r| !known.contains(r.label.as_str())) {
        *counts.entry(&r.label).or_default() += 1;
    }
    let mut labels: Vec<(String, usize)> = counts
        .into_iter()
        .map(|(l, n)| (l.to_string(), n))
        .collect();
    labels.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    UnseenLabels {
        n_examples: labels.iter().map(|l| l.1).sum(),
        labels,
    }
}

fn time_sorted(mut rows: Vec<LabelledAppeal>) -> Vec<LabelledAppeal> {
    rows.sort_by_key(|r| r.created_at);
    rows
}

fn fold_info(f: &Fold) -> FoldInfo {
    FoldInfo {
        index: f.index,
        n_train: f.train.len(),
        n_test: f.test.len(),
        train_period: period(&f.train),
        test_period: period(&f.test),
        unseen_test_labels: unseen(&f.train, &f.test),
    }
}

fn check_sides(f: &Fold, rule: &str) -> Result<(), SplitError> {
    if f.train.is_empty() {
        return Err(SplitError::EmptySide {
            side: "train",
            rule: rule.to_string(),
        });
    }
    if f.test.is_empty() {
        return Err(SplitError::EmptySide {
            side: "test",
            rule: rule.to_string(),
        });
    }
    Ok(())
}

fn info(rule: &str, description: String, n_rows: usize, folds: &[Fold]) -> SplitInfo {
    let n_train = folds.iter().map(|f| f.train.len()).sum();
    let n_test: usize = folds.iter().map(|f| f.test.len()).sum();
    let n_dropped = if rule == "time" {
        n_rows - n_train - n_test
    } else {
        0
    };
    SplitInfo {
        rule: rule.to_string(),
        description,
        n_rows,
        n_dropped,
        n_train,
        n_test,
        folds: folds.iter().map(fold_info).collect(),
    }
}

/// Time split: train is `created_at < train_until` (exclusive bound), test is
/// `created_at >= test_from`; rows in between (a gap) are dropped and counted.
pub fn by_time(
    rows: Vec<LabelledAppeal>,
    train_until: i64,
    test_from: i64,
) -> Result<(Vec<Fold>, SplitInfo), SplitError> {
    if test_from < train_until {
        return Err(SplitError::Invalid(format!(
            "test_from ({}) is before train_until ({}): train and test would overlap",
            format_ms(test_from),
            format_ms(train_until)
        )));
    }
    let n_rows = rows.len();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for r in time_sorted(rows) {
        if r.created_at < train_until {
            train.push(r);
        } else if r.created_at >= test_from {
            test.push(r);
        }
    }
    let description = format!(
        "train: created_at < {}; test: created_at >= {}",
        format_ms(train_until),
        format_ms(test_from)
    );
    let fold = Fold {
        index: 0,
        train,
        test,
    };
    check_sides(&fold, &description)?;
    let folds = vec![fold];
    let info = info("time", description, n_rows, &folds);
    Ok((folds, info))
}

/// Two files: all of the first trains, all of the second tests.
pub fn by_files(
    train: Vec<LabelledAppeal>,
    test: Vec<LabelledAppeal>,
    train_name: &str,
    test_name: &str,
) -> Result<(Vec<Fold>, SplitInfo), SplitError> {
    let n_rows = train.len() + test.len();
    let description = format!("train: {train_name}; test: {test_name}");
    let fold = Fold {
        index: 0,
        train: time_sorted(train),
        test: time_sorted(test),
    };
    check_sides(&fold, &description)?;
    let folds = vec![fold];
    let info = info("files", description, n_rows, &folds);
    Ok((folds, info))
}

/// The duplicate-grouping key: lower case, whitespace runs collapsed to one space.
pub fn normalised_text(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Grouped k-fold: texts equal after [`normalised_text`] form a group, and a
/// group is never split. Groups go, largest first (ties by text), to the fold
/// with the fewest rows so far (ties to the lowest index), as sklearn's
/// `GroupKFold` does; deterministic, no seed needed.
pub fn grouped_k_fold(
    rows: Vec<LabelledAppeal>,
    k: usize,
) -> Result<(Vec<Fold>, SplitInfo), SplitError> {
    if k < 2 {
        return Err(SplitError::Invalid(format!(
            "--folds must be at least 2, got {k}"
        )));
    }
    let n_rows = rows.len();
    let mut groups: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        groups.entry(normalised_text(&r.text)).or_default().push(i);
    }
    if groups.len() < k {
        return Err(SplitError::Invalid(format!(
            "{k} folds need at least {k} distinct texts, found {}",
            groups.len()
        )));
    }
    let mut groups: Vec<(String, Vec<usize>)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    let mut fold_of = vec![0usize; n_rows];
    let mut sizes = vec![0usize; k];
    for (_, members) in &groups {
        let f = (0..k).min_by_key(|&f| (sizes[f], f)).expect("k >= 2");
        sizes[f] += members.len();
        for &i in members {
            fold_of[i] = f;
        }
    }
    let folds: Vec<Fold> = (0..k)
        .map(|f| {
            let (mut train, mut test) = (Vec::new(), Vec::new());
            for (i, r) in rows.iter().enumerate() {
                if fold_of[i] == f {
                    test.push(r.clone())
                } else {
                    train.push(r.clone())
                }
            }
            Fold {
                index: f,
                train: time_sorted(train),
                test: time_sorted(test),
            }
        })
        .collect();
    let description = format!(
        "{k}-fold, grouped by normalised text (lower case, collapsed whitespace): duplicates never straddle train and test; every row is tested once"
    );
    for f in &folds {
        check_sides(f, &description)?;
    }
    let info = info("group_kfold", description, n_rows, &folds);
    Ok((folds, info))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: usize, text: &str, label: &str, day: i64) -> LabelledAppeal {
        LabelledAppeal {
            row: id,
            id: id.to_string(),
            text: text.into(),
            label: label.into(),
            created_at: day * 86_400_000,
            district: None,
            municipality: None,
            lat: None,
            lon: None,
            category: Vec::new(),
        }
    }

    #[test]
    fn time_split_until_is_exclusive_and_gap_is_dropped() {
        let rows = vec![
            row(1, "a", "A", 3),
            row(2, "b", "A", 1),
            row(3, "c", "B", 5),
            row(4, "d", "C", 10),
            row(5, "e", "C", 5),
        ];
        let (folds, info) = by_time(rows, 5 * 86_400_000, 6 * 86_400_000).unwrap();
        let ids = |v: &[LabelledAppeal]| v.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(
            ids(&folds[0].train),
            ["2", "1"],
            "time order, day 5 excluded"
        );
        assert_eq!(ids(&folds[0].test), ["4"]);
        assert_eq!((info.n_train, info.n_test, info.n_dropped), (2, 1, 2));
        assert_eq!(
            info.folds[0].unseen_test_labels,
            UnseenLabels {
                n_examples: 1,
                labels: vec![("C".into(), 1)]
            }
        );
        assert_eq!(info.folds[0].train_period.from, "1970-01-02T00:00:00Z");
        let day = 86_400_000;
        assert!(by_time(vec![row(1, "a", "A", 1)], 5 * day, 6 * day)
            .unwrap_err()
            .to_string()
            .contains("test part"));
        assert!(by_time(vec![row(1, "a", "A", 1)], 6, 5).is_err());
    }

    #[test]
    fn grouped_folds_keep_duplicates_together_and_balance() {
        let mut rows = Vec::new();
        let texts = [
            "Мусор",
            "мусор ",
            "МУСОР\n",
            "яма",
            "Яма",
            "свет",
            "лифт",
            "снег",
            "лед",
            "кот",
        ];
        for (i, t) in texts.iter().enumerate() {
            rows.push(row(i, t, "A", i as i64));
        }
        let (folds, info) = grouped_k_fold(rows, 3).unwrap();
        // Groups by size: мусор(3), яма(2), then 5 singletons sorted by text:
        // кот, лед, лифт, свет, снег. Greedy to the smallest fold:
        // f0 = мусор(3); f1 = яма(2); f2 = кот, лед; f1 += лифт (3); f2 += свет (3); f0 += снег (4).
        // Row numbers: мусор 0-2, яма 3-4, свет 5, лифт 6, снег 7, лед 8, кот 9.
        let test_ids = |f: &Fold| {
            let mut v: Vec<usize> = f.test.iter().map(|r| r.row).collect();
            v.sort();
            v
        };
        assert_eq!(test_ids(&folds[0]), [0, 1, 2, 7]);
        assert_eq!(test_ids(&folds[1]), [3, 4, 6]);
        assert_eq!(test_ids(&folds[2]), [5, 8, 9]);
        assert_eq!((info.n_test, info.n_train), (10, 20));
        for f in &folds {
            let train: BTreeSet<String> =
                f.train.iter().map(|r| normalised_text(&r.text)).collect();
            assert!(f
                .test
                .iter()
                .all(|r| !train.contains(&normalised_text(&r.text))));
        }
        assert!(grouped_k_fold(vec![row(1, "a", "A", 1), row(2, "A", "A", 1)], 2).is_err());
    }
}
