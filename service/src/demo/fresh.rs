//! Fresh appeals the demo submits at start, so the review page has work on it.
//! Hand-written for the demo (Russian, Ukrainian, English), about St Petersburg
//! districts, like the history they are routed against.

use crate::engine::NewAppeal;
use crate::record::Place;

/// (district, text) of each fresh demo appeal.
pub const FRESH: [(&str, &str); 8] = [
    (
        "Невский",
        "Во дворе третий день не вывозят мусор, контейнеры переполнены, пакеты лежат на земле.",
    ),
    (
        "Выборгский",
        "У нашому під'їзді вже тиждень не світить лампа на сходах, увечері зовсім темно.",
    ),
    (
        "Центральный",
        "Someone has covered the traffic light at the crossing with stickers and adverts.",
    ),
    (
        "Калининский",
        "Тротуар вдоль проспекта не чистят от снега, пешеходы идут по проезжей части.",
    ),
    (
        "Приморский",
        "На фасаде дома соседи самовольно повесили кондиционер прямо над окнами.",
    ),
    (
        "Московский",
        "Не работает лифт в девятиэтажном доме, пожилые жильцы не могут выйти из квартир.",
    ),
    (
        "Кировский",
        "На газоні біля будинку викинули старий диван і шафу.",
    ),
    (
        "Фрунзенский",
        "Street lights on our street have been off for a week; the pavement is dark at night.",
    ),
];

/// The first `n` fresh appeals (at most [`FRESH`]'s length), with external ids
/// unique to this start (`<prefix>-<i>`), so every start adds new work.
pub fn appeals(n: usize, prefix: &str) -> Vec<NewAppeal> {
    FRESH
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, (district, text))| NewAppeal {
            external_id: Some(format!("{prefix}-{}", i + 1)),
            text: (*text).to_string(),
            place: Place {
                district: Some((*district).to_string()),
                ..Place::default()
            },
            channel: Some("web".into()),
            applicant_category: None,
            received_at: None,
            category: Vec::new(),
        })
        .collect()
}
