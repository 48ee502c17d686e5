//! Language detection on realistic appeal sentences.

use triage_domain::language::{detect, Language};

fn expect(lang: Language, texts: &[&str]) {
    for t in texts {
        assert_eq!(detect(t), lang, "text: {t}");
    }
}

#[test]
fn ukrainian_appeals() {
    expect(
        Language::Uk,
        &[
            "Добрий день! У нашому будинку на вул. Шевченка, 12 вже третій тиждень немає гарячої води.",
            "Прошу вжити заходів щодо ремонту дороги біля школи № 5, ями дуже глибокі.",
            "Сміття не вивозять з двору з початку місяця, контейнери переповнені.",
            "Дякую",
            "Допоможіть!",
            "Прохання розібратися з опаленням",
        ],
    );
}

#[test]
fn russian_appeals() {
    expect(
        Language::Ru,
        &[
            "Здравствуйте! В нашем доме по улице Ленина уже неделю нет горячей воды.",
            "Прошу принять меры по ремонту дороги возле школы, ямы очень глубокие.",
            "Мусор не вывозят со двора с начала месяца.",
            "Спасибо",
            "Заявление о перерасчете платы за отопление",
        ],
    );
}

#[test]
fn kazakh_appeals() {
    expect(
        Language::Kk,
        &[
            "Сәлеметсіз бе! Біздің үйде бір аптадан бері ыстық су жоқ.",
            "Мектеп жанындағы жолды жөндеуге шара қолдануыңызды сұраймын.",
            "Қоқыс ауладан ай басынан бері шығарылмайды, контейнерлер толып кетті.",
            "Рахмет",
            "Жарық жоқ",
        ],
    );
}

#[test]
fn english_appeals() {
    expect(
        Language::En,
        &[
            "Hello, there has been no hot water in our building for a week.",
            "Please repair the pothole near school No. 5.",
            "Thanks!",
        ],
    );
}

#[test]
fn mixed_appeals() {
    expect(
        Language::Mixed,
        &[
            // uk + ru, about half each
            "Добрий день, у нашому будинку немає світла. Уже неделю нет горячей воды, никто не отвечает.",
            // ru + en
            "Прошу проверить начисление за воду. The bill for March is twice as high as usual.",
            // kk + ru
            "Біздің көшеде жарық жоқ. Уже неделю нет света на улице, фонари не работают.",
        ],
    );
}

#[test]
fn a_few_foreign_words_do_not_make_a_text_mixed() {
    assert_eq!(
        detect("У нашому під'їзді не працює ліфт вже місяць, на дзвінки в ЖЕК ніхто не відповідає, OK?"),
        Language::Uk
    );
    assert_eq!(
        detect("Не работает лифт в подъезде уже месяц, в управляющую компанию не дозвониться, email не отвечают"),
        Language::Ru
    );
}

#[test]
fn no_letters_or_other_scripts() {
    expect(
        Language::Other,
        &[
            "",
            "   ",
            "😀😀😀 !!! ???",
            "12.03.2021 15:30",
            "[PHONE] [EMAIL]",
            "請修理道路",
            "يرجى إصلاح الطريق",
        ],
    );
}

#[test]
fn wire_form_is_lowercase() {
    assert_eq!(Language::Mixed.as_str(), "mixed");
    assert_eq!(serde_json::to_string(&Language::Kk).unwrap(), "\"kk\"");
    let back: Language = serde_json::from_str("\"uk\"").unwrap();
    assert_eq!(back, Language::Uk);
}
