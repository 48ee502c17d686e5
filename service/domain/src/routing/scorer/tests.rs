//! Tests of the scorer: each term, and their sum.

use std::sync::LazyLock;

use super::*;

static NO_ROLES: LazyLock<Roles> = LazyLock::new(Roles::default);

/// An input with nothing in it but `areas`: each test sets what it needs.
fn bare(areas: &AreaStats) -> ScoreInput<'_> {
    ScoreInput {
        neighbours: &[],
        local_neighbours: &[],
        place_neighbours: &[],
        place_category_neighbours: &[],
        area_neighbours: &[],
        area_category_neighbours: &[],
        head: None,
        lexical: None,
        district: None,
        category: None,
        departments: &[],
        areas,
        confirmed_total: 0,
        activity: None,
        roles: &NO_ROLES,
    }
}

fn nb(id: i64, d: &str, s: f32) -> Neighbour {
    Neighbour {
        id,
        department: d.into(),
        district: None,
        similarity: s,
        received_at: 0,
        decided: false,
    }
}

fn best(s: &Scored) -> &str {
    let i = (0..s.scores.len())
        .max_by(|&a, &b| s.scores[a].total_cmp(&s.scores[b]))
        .unwrap();
    &s.candidates[i]
}

#[test]
fn the_district_picks_the_local_agency_the_text_cannot_name() {
    let mut areas = AreaStats::new();
    for _ in 0..50 {
        areas.add("housing-north", Some("North"));
        areas.add("housing-south", Some("South"));
    }
    // Text neighbours are all northern housing cases...
    let ns = [
        nb(1, "housing-north", 0.95),
        nb(2, "housing-north", 0.94),
        nb(3, "housing-south", 0.90),
    ];
    let input = ScoreInput {
        neighbours: &ns,
        district: Some("South"),
        confirmed_total: 100,
        ..bare(&areas)
    };
    // ...but the appeal is from the south.
    assert_eq!(best(&Scorer::default().score(&input)), "housing-south");
    let no_place = ScoreInput {
        district: None,
        ..input
    };
    assert_eq!(best(&Scorer::default().score(&no_place)), "housing-north");
}

#[test]
fn descriptions_route_at_cold_start_and_inactive_departments_never_win() {
    let areas = AreaStats::new();
    let deps = vec![
        DepartmentInfo {
            code: "roads".into(),
            active: true,
            areas: vec![],
            description_similarity: Some(0.88),
        },
        DepartmentInfo {
            code: "water".into(),
            active: true,
            areas: vec![],
            description_similarity: Some(0.80),
        },
        DepartmentInfo {
            code: "old".into(),
            active: false,
            areas: vec![],
            description_similarity: Some(0.95),
        },
    ];
    let input = ScoreInput {
        departments: &deps,
        ..bare(&areas)
    };
    let s = Scorer::default().score(&input);
    assert_eq!(best(&s), "roads");
    assert!(!s.candidates.contains(&"old".to_string()));
    let ns = [nb(1, "old", 0.99)];
    let s = Scorer::default().score(&ScoreInput {
        neighbours: &ns,
        ..input
    });
    assert!(!s.candidates.contains(&"old".to_string()));
}

#[test]
fn declared_areas_exclude_departments_elsewhere() {
    let areas = AreaStats::new();
    let deps = vec![
        DepartmentInfo {
            code: "a".into(),
            active: true,
            areas: vec!["East".into()],
            description_similarity: None,
        },
        DepartmentInfo {
            code: "b".into(),
            active: true,
            areas: vec!["West".into()],
            description_similarity: None,
        },
    ];
    let ns = [nb(1, "a", 0.95), nb(2, "b", 0.93)];
    let input = ScoreInput {
        neighbours: &ns,
        district: Some("West"),
        departments: &deps,
        confirmed_total: 2,
        ..bare(&areas)
    };
    assert_eq!(best(&Scorer::default().score(&input)), "b");
}

#[test]
fn an_unknown_district_leaves_the_place_signal_out() {
    let mut areas = AreaStats::new();
    for _ in 0..100 {
        areas.add("big", Some("A"));
    }
    areas.add("small", Some("A"));
    let ns = [nb(1, "big", 0.95), nb(2, "small", 0.90)];
    let input = ScoreInput {
        neighbours: &ns,
        district: Some("Atlantis"),
        confirmed_total: 101,
        ..bare(&areas)
    };
    let s = Scorer::default().score(&input);
    assert!(s.signals.get(SignalKind::Place).is_none());
    assert_eq!(best(&s), "big");
}

#[test]
fn same_spot_cases_tip_a_close_call_but_do_not_decide_alone() {
    let areas = AreaStats::new();
    // Text neighbours are split evenly between two departments...
    let ns = [nb(1, "roads", 0.90), nb(2, "parks", 0.90)];
    let spot = [nb(3, "parks", 0.80)];
    let input = ScoreInput {
        neighbours: &ns,
        place_neighbours: &spot,
        confirmed_total: 3,
        ..bare(&areas)
    };
    // ...and the one case from the same yard went to parks.
    let s = Scorer::default().score(&input);
    assert_eq!(best(&s), "parks");
    assert!(s.signals.get(SignalKind::Geo).is_some());
    // Against clear text evidence one same-spot case is a hint, not a veto.
    let strong = [
        nb(1, "roads", 0.95),
        nb(4, "roads", 0.94),
        nb(2, "parks", 0.80),
    ];
    let s = Scorer::default().score(&ScoreInput {
        neighbours: &strong,
        ..input
    });
    assert_eq!(best(&s), "roads");
}

#[test]
fn nothing_known_means_no_candidates() {
    let areas = AreaStats::new();
    let input = ScoreInput {
        district: Some("x"),
        ..bare(&areas)
    };
    assert!(Scorer::default().score(&input).candidates.is_empty());
}

#[test]
fn scores_are_the_offset_plus_the_weighted_features_under_any_weights() {
    let mut areas = AreaStats::new();
    for _ in 0..50 {
        areas.add("housing-north", Some("North"));
        areas.add("housing-south", Some("South"));
        areas.add("roads", Some("North"));
    }
    for _ in 0..40 {
        areas.add("roads", Some("South"));
    }
    let ns = [
        nb(1, "housing-north", 0.95),
        nb(2, "roads", 0.94),
        nb(3, "housing-south", 0.90),
    ];
    let input = ScoreInput {
        neighbours: &ns,
        local_neighbours: &ns[2..],
        place_neighbours: &ns[1..2],
        district: Some("South"),
        confirmed_total: 140,
        ..bare(&areas)
    };
    let scorer = Scorer::default();
    let scored = scorer.score(&input);
    assert_eq!(scored.features.len(), scored.candidates.len());
    // The northern agency is outside its area: the penalty is an offset.
    let north = scored
        .candidates
        .iter()
        .position(|c| c == "housing-north")
        .unwrap();
    assert_eq!(scored.offset[north], -JURISDICTION_PENALTY);
    let learned = SignalWeights::from_array([
        0.0, 3.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
    ]);
    let reweighted = scorer.with_weights(&learned).score(&input);
    for (i, f) in scored.features.iter().enumerate() {
        let expect = scored.offset[i] + scorer.params.weights.dot(f);
        assert!((scored.scores[i] - expect).abs() < 1e-9);
        let expect = scored.offset[i] + learned.dot(f);
        assert!((reweighted.scores[i] - expect).abs() < 1e-9);
    }
    // The defaults follow the same-spot case; with the local neighbours
    // weighted up instead, the district's agency wins.
    assert_eq!(best(&scored), "roads");
    assert_eq!(best(&reweighted), "housing-south");
}
#[test]
fn a_supervisors_decision_on_a_near_identical_appeal_outweighs_the_crowd() {
    let areas = AreaStats::new();
    // Thirty loosely similar cases and two imported near-duplicates went
    // to roads.
    let mut crowd: Vec<Neighbour> = (0..30).map(|i| nb(i, "roads", 0.90)).collect();
    crowd.extend([nb(50, "roads", 0.975), nb(51, "roads", 0.975)]);
    let input = |ns: &[Neighbour]| {
        let input = ScoreInput {
            neighbours: ns,
            confirmed_total: 1000,
            ..bare(&areas)
        };
        Scorer::default().score(&input)
    };
    // One more imported near-duplicate went to parks: the crowd wins.
    let mut imported = crowd.clone();
    imported.push(nb(99, "parks", 0.975));
    assert_eq!(best(&input(&imported)), "roads");
    // The same case as a supervisor's decision: it decides.
    crowd.push(Neighbour {
        decided: true,
        ..nb(99, "parks", 0.975)
    });
    let scored = input(&crowd);
    assert_eq!(best(&scored), "parks");
    assert!(scored.signals.get(SignalKind::Decisions).is_some());
    let parks = scored.candidates.iter().position(|c| c == "parks").unwrap();
    assert!(scored.features[parks][SignalKind::Decisions as usize] > -0.5);
}

/// Cases of two topics with their categories: potholes (category
/// "Roads") go to roads, leaks ("Housing") to housing.
fn category_stats() -> CategoryStats {
    let mut stats = CategoryStats::new();
    for _ in 0..200 {
        stats.add("roads", &["Roads".to_string()], None);
        stats.add("housing", &["Housing".to_string()], None);
    }
    stats
}

#[test]
fn the_category_decides_a_vague_text_but_a_wrong_pick_does_not_overrule_clear_text() {
    let areas = AreaStats::new();
    let stats = category_stats();
    let housing = ["Housing".to_string()];
    // A vague text: its neighbours are split.
    let vague = [nb(1, "roads", 0.90), nb(2, "housing", 0.90)];
    let input = ScoreInput {
        neighbours: &vague,
        category: Some((&stats, &housing)),
        confirmed_total: 400,
        ..bare(&areas)
    };
    let s = Scorer::default().score(&input);
    assert_eq!(best(&s), "housing");
    assert_eq!(s.signals.category_levels, 1);
    // A clear pothole text, filed under "Housing" by mistake: nearly
    // identical past cases all went to roads.
    let clear: Vec<Neighbour> = (0..10).map(|i| nb(i, "roads", 0.98)).collect();
    let s = Scorer::default().score(&ScoreInput {
        neighbours: &clear,
        ..input
    });
    assert_eq!(best(&s), "roads");
    assert!(s.signals.get(SignalKind::Category).is_some());
    // An unseen category says nothing.
    let unseen = ["Space travel".to_string()];
    let s = Scorer::default().score(&ScoreInput {
        category: Some((&stats, &unseen)),
        ..input
    });
    assert!(s.signals.get(SignalKind::Category).is_none());
    assert_eq!(s.signals.category_levels, 0);
}

#[test]
fn same_spot_cases_of_the_same_category_name_the_local_office() {
    let areas = AreaStats::new();
    // At this address, roads cases went to one office, and the one
    // housing case went to the housing office.
    let spot = [
        nb(1, "office-roads", 0.8),
        nb(2, "office-roads", 0.8),
        nb(3, "office-housing", 0.8),
    ];
    let same_category = [nb(3, "office-housing", 0.8)];
    let vague = [nb(4, "office-roads", 0.9), nb(5, "office-housing", 0.9)];
    let input = ScoreInput {
        neighbours: &vague,
        place_neighbours: &spot,
        confirmed_total: 5,
        ..bare(&areas)
    };
    assert_eq!(best(&Scorer::default().score(&input)), "office-roads");
    let s = Scorer::default().score(&ScoreInput {
        place_category_neighbours: &same_category,
        ..input
    });
    assert_eq!(best(&s), "office-housing");
    assert!(s.signals.get(SignalKind::GeoCategory).is_some());
}

#[test]
fn the_place_signal_is_shown_as_a_probability() {
    let mut areas = AreaStats::new();
    for _ in 0..50 {
        areas.add("a", Some("North"));
        areas.add("b", Some("South"));
        areas.add("c", Some("North"));
        areas.add("c", Some("South"));
    }
    let ns = [nb(1, "a", 0.9), nb(2, "b", 0.9), nb(3, "c", 0.9)];
    let s = Scorer::default().score(&ScoreInput {
        neighbours: &ns,
        district: Some("North"),
        confirmed_total: 200,
        ..bare(&areas)
    });
    let place = s.signals.get(SignalKind::Place).unwrap();
    assert!((place.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{place:?}");
    assert!(place.iter().all(|p| (0.0..=1.0).contains(p)));
}
