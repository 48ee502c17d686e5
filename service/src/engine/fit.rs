//! Fitting a tenant's router from its confirmed cases: the families of local
//! departments, the embedding head, the lexical model (with the catalogue's
//! own words), and the counters (areas, categories, department activity).

use std::collections::HashMap;

use triage_domain::routing::{
    not_request, roles, Activity, AreaStats, CategoryStats, DetectorFitOptions, HeadFitOptions,
    LexicalFitOptions, LexicalHead, LexicalPlace, NotRequestDetector, RoleOptions, Roles,
    SoftmaxHead,
};

use crate::index::CasePoint;
use crate::record::Department;

use super::lookup::{CaseDetail, CaseTexts};

/// Area statistics of a set of cases.
pub fn areas_of(cases: &[CasePoint]) -> AreaStats {
    let mut a = AreaStats::new();
    for c in cases {
        if let Some(d) = &c.payload.department {
            a.add(d, c.payload.district.as_deref());
        }
    }
    a
}

/// The department activity of cases (any order), decaying with `half_life_days`.
pub fn activity_of(cases: &[CasePoint], half_life_days: f64) -> Activity {
    let mut a = Activity::new(half_life_days);
    let mut times: Vec<(i64, &str)> = cases
        .iter()
        .filter_map(|c| Some((c.payload.received_at, c.payload.department.as_deref()?)))
        .collect();
    times.sort_unstable();
    for (t, d) in times {
        a.add(d, t);
    }
    a
}

/// Category statistics of a set of cases (their categories are in the record).
pub fn categories_of(cases: &[CasePoint], texts: &CaseTexts) -> CategoryStats {
    let mut s = CategoryStats::new();
    for c in cases {
        if let Some(d) = &c.payload.department {
            let category = texts.get(&c.id).map_or(&[][..], |t| &t.category[..]);
            s.add(d, category, c.payload.district.as_deref());
        }
    }
    s
}

/// The not-a-request detector of confirmed cases (time-ordered), learned
/// from those filed under a `marked` category path; `None` when nothing is
/// marked, too few cases are, or `precision` is out of reach (blocking).
pub fn not_request_detector(
    cases: &[CasePoint],
    texts: &CaseTexts,
    marked: &[Vec<String>],
    precision: f64,
) -> Option<NotRequestDetector> {
    if marked.is_empty() {
        return None;
    }
    let xs: Vec<&[f32]> = cases.iter().map(|c| c.vector.as_slice()).collect();
    let labels: Vec<bool> = cases
        .iter()
        .map(|c| {
            texts
                .get(&c.id)
                .is_some_and(|t| not_request::is_marked(&t.category, marked))
        })
        .collect();
    NotRequestDetector::fit(
        &xs,
        &labels,
        &DetectorFitOptions {
            target_precision: precision,
            ..DetectorFitOptions::default()
        },
    )
}

/// The fitted parts learned from a set of confirmed cases.
pub struct Fitted {
    /// Families of local departments.
    pub roles: Roles,
    /// Softmax head over embedding + district, with family labels.
    pub head: Option<SoftmaxHead>,
    /// Lexical model over text + district, with the same labels.
    pub lexical: Option<LexicalHead>,
}

/// What the catalogue says about one department, as text: its code, names and
/// description. The lexical model learns it as one more case of the
/// department (see [`fit_router`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartmentDoc {
    /// Department code.
    pub code: String,
    /// Code, names and description, joined.
    pub text: String,
}

/// How many cases a department's catalogue document counts as in the lexical
/// fit: a name is worth a few appeals (and words seen in a single document
/// are dropped from the vocabulary, so one copy would lose the name's own
/// words: "Бородянська" occurs nowhere else).
const DOC_CASES: usize = 3;

/// The documents of a catalogue's active departments.
pub fn department_docs(departments: &[Department]) -> Vec<DepartmentDoc> {
    departments
        .iter()
        .filter(|d| d.active)
        .map(|d| {
            let mut parts: Vec<&str> = vec![d.code.as_str()];
            for n in d.names.values() {
                if !parts.contains(&n.as_str()) {
                    parts.push(n);
                }
            }
            parts.push(&d.description);
            DepartmentDoc {
                code: d.code.clone(),
                text: parts.join("\n").trim().to_string(),
            }
        })
        .collect()
}

/// Learns the department families and fits the head on cases (blocking; call
/// from a blocking thread).
///
/// The lexical model also learns each catalogue document as a case of its
/// department: with a handful of cases per department, the department's own
/// name ("Бородянська селищна рада") is evidence that the texts naming its
/// place or its trade share words and character n-grams with; and a
/// department without confirmed cases yet becomes a class the lexical model
/// can name. (Few-shot text classifiers use the label's name the same way.)
///
/// The cases may come in any order: the fits see them by (received, id), so
/// the same set of cases always gives the same models (the fits shuffle with
/// a fixed seed, and a shuffle of a different order is a different fit).
pub fn fit_router(cases: &[CasePoint], texts: &CaseTexts, docs: &[DepartmentDoc]) -> Fitted {
    let mut labelled: Vec<(&str, &CasePoint)> = cases
        .iter()
        .filter_map(|c| Some((c.payload.department.as_deref()?, c)))
        .collect();
    labelled.sort_by_key(|(_, c)| (c.payload.received_at, c.id));
    let areas = areas_of(cases);
    let centroids = roles::centroids(labelled.iter().map(|(d, c)| (*d, c.vector.as_slice())));
    let roles = Roles::learn_from_history(&areas, &centroids, &RoleOptions::default());
    let labels: Vec<String> = labelled.iter().map(|(d, _)| roles.label(d)).collect();
    let mut classes = labels.clone();
    classes.sort();
    classes.dedup();
    let index: HashMap<&str, usize> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let xs: Vec<&[f32]> = labelled.iter().map(|(_, c)| c.vector.as_slice()).collect();
    let districts: Vec<Option<&str>> = labelled
        .iter()
        .map(|(_, c)| c.payload.district.as_deref())
        .collect();
    let ys: Vec<usize> = labels.iter().map(|l| index[l.as_str()]).collect();
    let head = SoftmaxHead::fit_with_districts(
        &xs,
        &districts,
        &ys,
        classes.clone(),
        &HeadFitOptions::default(),
    );
    let with_text: Vec<(usize, &CaseDetail)> = labelled
        .iter()
        .enumerate()
        .filter_map(|(i, (_, c))| Some((i, texts.get(&c.id)?)))
        .collect();
    let mut lex_texts: Vec<&str> = with_text.iter().map(|(_, t)| t.text.as_str()).collect();
    let mut lex_places: Vec<LexicalPlace<'_>> = with_text
        .iter()
        .map(|(i, t)| t.lexical_place(districts[*i]))
        .collect();
    let mut lex_ys: Vec<usize> = with_text.iter().map(|(i, _)| ys[*i]).collect();
    let mut lex_classes = classes.clone();
    if !lex_texts.is_empty() {
        let doc_labels: Vec<(String, &str)> = docs
            .iter()
            .filter(|d| !d.text.is_empty())
            .map(|d| (roles.label(&d.code), d.text.as_str()))
            .collect();
        let mut new_classes: Vec<&String> = doc_labels
            .iter()
            .map(|(l, _)| l)
            .filter(|l| !index.contains_key(l.as_str()))
            .collect();
        new_classes.sort();
        new_classes.dedup();
        lex_classes.extend(new_classes.into_iter().cloned());
        let lex_index: HashMap<&str, usize> = lex_classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i))
            .collect();
        for (label, text) in &doc_labels {
            for _ in 0..DOC_CASES {
                lex_texts.push(text);
                lex_places.push(LexicalPlace::default());
                lex_ys.push(lex_index[label.as_str()]);
            }
        }
    }
    let lexical = LexicalHead::fit(
        &lex_texts,
        &lex_places,
        &lex_ys,
        lex_classes,
        &LexicalFitOptions::default(),
    );
    Fitted {
        roles,
        head,
        lexical,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::index::CasePayload;

    /// Cases of two topics in two districts, with texts and municipalities.
    pub(crate) fn cases() -> (Vec<CasePoint>, CaseTexts) {
        let topics = [
            ("roads", [1.0f32, 0.0, 0.0], "яма на дороге у дома"),
            ("water", [0.0, 1.0, 0.0], "нет воды в квартире"),
        ];
        let mut points = Vec::new();
        let mut texts = CaseTexts::new();
        for i in 0..40u64 {
            let (dept, v, text) = topics[(i % 2) as usize];
            let wobble = (i as f32 * 0.37).sin() * 0.2;
            points.push(CasePoint {
                id: i + 1,
                vector: vec![v[0] + wobble, v[1] - wobble, 0.3],
                payload: CasePayload {
                    tenant: "t".into(),
                    department: Some(dept.into()),
                    district: Some(if i % 3 == 0 { "A" } else { "B" }.into()),
                    status: "imported".into(),
                    received_at: 1_000 * (i as i64 / 2),
                    model: "m".into(),
                },
            });
            texts.insert(
                i + 1,
                CaseDetail {
                    text: format!("{text} номер {}", i % 5),
                    spot: None,
                    municipality: Some(format!("M{}", i % 4)),
                    category: Vec::new(),
                },
            );
        }
        (points, texts)
    }

    #[test]
    fn a_departments_own_name_is_lexical_evidence_even_without_cases() {
        let (points, texts) = cases();
        let docs = department_docs(&[
            Department {
                tenant_id: "t".into(),
                code: "borodianka".into(),
                names: [("uk".to_string(), "Бородянська селищна рада".to_string())].into(),
                description: "благоустрій селища Бородянка".into(),
                areas: Vec::new(),
                auto_threshold: None,
                active: true,
            },
            Department {
                tenant_id: "t".into(),
                code: "closed".into(),
                names: Default::default(),
                description: "закрито".into(),
                areas: Vec::new(),
                auto_threshold: None,
                active: false,
            },
        ]);
        assert_eq!(docs.len(), 1, "inactive departments bring no document");
        let fitted = fit_router(&points, &texts, &docs);
        let lexical = fitted.lexical.expect("a lexical model");
        // The department without cases is a class the lexical model can name...
        let at = lexical.classes.iter().position(|c| c == "borodianka");
        let at = at.expect("a class for the catalogue's department");
        assert!(!lexical.classes.iter().any(|c| c == "closed"));
        // ...and a text naming its place points to it above the others.
        let x = lexical.features("у селищі Бородянка", LexicalPlace::default());
        let p = lexical.predict(&x);
        let best = (0..p.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]));
        assert_eq!(best, Some(at), "{:?} {p:?}", lexical.classes);
        // The head is fitted on cases only: its classes are the history's.
        assert_eq!(fitted.head.expect("a head").classes, ["roads", "water"]);
    }

    #[test]
    fn the_same_cases_in_another_order_give_the_same_models() {
        let (points, texts) = cases();
        let a = fit_router(&points, &texts, &[]);
        let mut reversed = points.clone();
        reversed.reverse();
        let b = fit_router(&reversed, &texts, &[]);
        assert!(a.lexical.is_some() && a.head.is_some());
        assert_eq!(a.lexical, b.lexical);
        assert_eq!(a.head, b.head);
    }
}
