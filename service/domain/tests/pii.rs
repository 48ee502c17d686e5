//! Masking of personal data: each kind in uk/ru/kk/en sentences, the numbers
//! that must stay (dates, amounts, house and cadastral numbers), idempotency.

use triage_domain::pii::{redact, PiiKind};

/// Redacts and checks the exact output and the reported counts.
fn check(input: &str, expected: &str, kinds: &[(PiiKind, usize)]) {
    let r = redact(input);
    assert_eq!(r.text, expected, "input: {input}");
    assert_eq!(r.found, kinds, "input: {input}");
    let again = redact(&r.text);
    assert_eq!(again.text, r.text, "not idempotent on: {input}");
    assert!(
        again.is_clean(),
        "second pass found {:?} in {:?}",
        again.found,
        r.text
    );
}

/// Text that must come out unchanged.
fn untouched(input: &str) {
    let r = redact(input);
    assert_eq!(r.text, input, "masked something in: {input}");
    assert!(r.is_clean());
}

#[test]
fn emails_in_four_languages() {
    check(
        "Відповідь прошу надіслати на ivan.petrenko@ukr.net, дякую.",
        "Відповідь прошу надіслати на [EMAIL], дякую.",
        &[(PiiKind::Email, 1)],
    );
    check(
        "Мой адрес: Anna_Smirnova+zhkh@mail.ru",
        "Мой адрес: [EMAIL]",
        &[(PiiKind::Email, 1)],
    );
    check(
        "Жауапты aigerim.nur@gmail.com поштасына жіберіңіз.",
        "Жауапты [EMAIL] поштасына жіберіңіз.",
        &[(PiiKind::Email, 1)],
    );
    check(
        "Contact me at john.doe@example.co.uk or jd@sub.example.com.",
        "Contact me at [EMAIL] or [EMAIL].",
        &[(PiiKind::Email, 2)],
    );
}

#[test]
fn ukrainian_phones_in_all_usual_shapes() {
    for phone in [
        "050 123 45 67",
        "050-123-45-67",
        "(044) 123-45-67",
        "(0372) 12-34-56",
        "0501234567",
        "+380501234567",
        "+380 50 123 45 67",
        "+38 (050) 123-45-67",
        "380 67 123 45 67",
        "067 1234567",
        "(044) 1234567",
        "(044)1234567",
        "044-1234567",
        "067123-45-67",
        "(8044) 123 45 67",
        "8 067 123 45 67",
    ] {
        check(
            &format!("Мій телефон {phone}, телефонуйте після 18:00."),
            "Мій телефон [PHONE], телефонуйте після 18:00.",
            &[(PiiKind::Phone, 1)],
        );
    }
}

#[test]
fn russian_and_kazakh_phones() {
    for phone in [
        "+7 (701) 123-45-67",
        "+7 701 123 45 67",
        "+77011234567",
        "8 (727) 250-12-34",
        "8 701 123 45 67",
        "87011234567",
        "8-916-123-45-67",
        "8 800 555 35 35",
    ] {
        check(
            &format!("Звоните по номеру {phone} в любое время"),
            "Звоните по номеру [PHONE] в любое время",
            &[(PiiKind::Phone, 1)],
        );
    }
    check(
        "Менің нөмірім +7 747 555 12 34, хабарласыңыз.",
        "Менің нөмірім [PHONE], хабарласыңыз.",
        &[(PiiKind::Phone, 1)],
    );
    check(
        "Call me on +44 20 7946 0958 please",
        "Call me on [PHONE] please",
        &[(PiiKind::Phone, 1)],
    );
}

#[test]
fn short_city_numbers_only_after_a_phone_label() {
    check(
        "Тел. 234-56-78 (вечером)",
        "Тел. [PHONE] (вечером)",
        &[(PiiKind::Phone, 1)],
    );
    untouched("Документ № 234-56-78 от 12.03.2021");
}

#[test]
fn two_phones_in_one_run_of_digits() {
    check(
        "телефони: 050 123 45 67 067 765 43 21",
        "телефони: [PHONE] [PHONE]",
        &[(PiiKind::Phone, 2)],
    );
}

#[test]
fn cards_only_when_luhn_valid() {
    check(
        "Гроші списали з картки 4276 5200 0012 3451 двічі.",
        "Гроші списали з картки [CARD] двічі.",
        &[(PiiKind::Card, 1)],
    );
    check(
        "Оплатил картой 5353-1012-3456-7897, деньги не вернули",
        "Оплатил картой [CARD], деньги не вернули",
        &[(PiiKind::Card, 1)],
    );
    check(
        "Картам 2200701234567896 арқылы төледім",
        "Картам [CARD] арқылы төледім",
        &[(PiiKind::Card, 1)],
    );
    check(
        "I paid with card 4111 1111 1111 1111 yesterday",
        "I paid with card [CARD] yesterday",
        &[(PiiKind::Card, 1)],
    );
    // One digit off: not a card.
    untouched("Номер договору 4276 5200 0012 3452 від 01.02.2024");
    // Placeholders stay.
    untouched("картка XXXX XXXX XXXX 1234");
}

#[test]
fn ibans_ua_kz_and_others() {
    check(
        "Рахунок IBAN UA21 3223 1300 0002 6007 2335 6600 1 в ПриватБанку",
        "Рахунок IBAN [IBAN] в ПриватБанку",
        &[(PiiKind::Iban, 1)],
    );
    check(
        "Реквизиты: UA213223130000026007233566001.",
        "Реквизиты: [IBAN].",
        &[(PiiKind::Iban, 1)],
    );
    check(
        "Шот нөмірі KZ86125KZT5004100100 екенін растаймын",
        "Шот нөмірі [IBAN] екенін растаймын",
        &[(PiiKind::Iban, 1)],
    );
    check(
        "Refund to DE89 3704 0044 0532 0130 00 please",
        "Refund to [IBAN] please",
        &[(PiiKind::Iban, 1)],
    );
    // Wrong check digits, and a placeholder.
    untouched("Рахунок UA22 3223 1300 0002 6007 2335 6600 1");
    untouched("IBAN UAXX XXXX XXXX XXXX XXXX XXXX XXXX X");
}

#[test]
fn ukrainian_tax_number_only_with_valid_checksum() {
    check(
        "Мій РНОКПП 3124567896, прошу перевірити нарахування.",
        "Мій РНОКПП [TAX_ID], прошу перевірити нарахування.",
        &[(PiiKind::TaxId, 1)],
    );
    check(
        "ИНН 2987654320 указан в квитанции",
        "ИНН [TAX_ID] указан в квитанции",
        &[(PiiKind::TaxId, 1)],
    );
    untouched("Номер справи 3124567890 у суді");
}

#[test]
fn russian_individual_inn() {
    check(
        "Мой ИНН 500301234503, прошу пересчитать налог",
        "Мой ИНН [TAX_ID], прошу пересчитать налог",
        &[(PiiKind::TaxId, 1)],
    );
}

#[test]
fn kazakh_iin_with_both_weight_sets() {
    check(
        "Менің ЖСН 870412300416, зейнетақы туралы сұраймын.",
        "Менің ЖСН [IIN], зейнетақы туралы сұраймын.",
        &[(PiiKind::Iin, 1)],
    );
    // 951201401806 needs the second weight set (first sum mod 11 is 10).
    check(
        "ИИН заявителя: 951201401806",
        "ИИН заявителя: [IIN]",
        &[(PiiKind::Iin, 1)],
    );
    check(
        "My IIN is 951201401806.",
        "My IIN is [IIN].",
        &[(PiiKind::Iin, 1)],
    );
    // Month 13: not a birth date, not an IIN.
    untouched("Код 871312300416 в системі");
}

#[test]
fn passports_ua_ru_kz() {
    check(
        "Паспорт серії КВ 123456 виданий Печерським РВ",
        "Паспорт серії [PASSPORT] виданий Печерським РВ",
        &[(PiiKind::Passport, 1)],
    );
    check(
        "паспорт ID-картка № 001234567, запис 19870412-01234",
        "паспорт ID-картка № [PASSPORT], запис 19870412-01234",
        &[(PiiKind::Passport, 1)],
    );
    check(
        "Паспорт серия 45 08 № 123456 выдан ОВД Тверского района",
        "Паспорт серия [PASSPORT] выдан ОВД Тверского района",
        &[(PiiKind::Passport, 1)],
    );
    check(
        "паспорт 4508 123456",
        "паспорт [PASSPORT]",
        &[(PiiKind::Passport, 1)],
    );
    check(
        "Төлқұжат N12345678 жоғалды",
        "Төлқұжат [PASSPORT] жоғалды",
        &[(PiiKind::Passport, 1)],
    );
    check(
        "My passport FA123456 expired",
        "My passport [PASSPORT] expired",
        &[(PiiKind::Passport, 1)],
    );
    // A 9-digit number without a document label stays.
    untouched("Заявка 123456789 зареєстрована");
    // "N" as "number" before a contract number is not a passport.
    untouched("по договору N12345678 от 01.02.2023");
}

#[test]
fn numbers_that_routing_needs_stay() {
    for t in [
        "вул. Хрещатик, буд. 22, кв. 145, Київ, 01001",
        "ул. Абая 150/230, кв. 12, Алматы 050000",
        "123456, г. Москва, ул. Тверская, д. 7, стр. 2, кв. 45",
        "Яма на дорозі з 12.03.2021, а ремонту досі немає",
        "С 2019 по 2021 год дом 15 не ремонтировали",
        "Прийом з 09:00 до 18:00, перерва 13:00-14:00",
        "Заборгованість 12 345 678,90 грн, сплачено 1 500 000 грн",
        "Сумма 1 234 567 890 тенге перечислена 2023-05-17",
        "Кадастровий номер 3222486200:03:001:0017",
        "Кадастровый номер 77:01:0001001:1234",
        "Кадастрлық нөмір 20:311:012:345",
        "Parcel 20-311-012-345, lot 17, built 1978",
        "Рахунок № XXXX-XXXX, телефон +380 XX XXX XX XX",
        "Температура в квартирі +12 градусів, 3 поверх, 2 під'їзд",
        "Протокол 15/2-2024 від 01.02.2024, версія 1.2.3",
    ] {
        untouched(t);
    }
}

#[test]
fn mixed_text_counts_each_kind() {
    let r = redact(
        "Петренко І.І., тел. +380 67 123 45 67, e-mail p@i.ua, РНОКПП 3124567896, \
         картка 4111 1111 1111 1111, IBAN UA213223130000026007233566001, буд. 5, кв. 12",
    );
    assert_eq!(
        r.text,
        "[NAME], тел. [PHONE], e-mail [EMAIL], РНОКПП [TAX_ID], \
         картка [CARD], IBAN [IBAN], буд. 5, кв. 12"
    );
    for kind in [
        PiiKind::Name,
        PiiKind::Email,
        PiiKind::Phone,
        PiiKind::Card,
        PiiKind::Iban,
        PiiKind::TaxId,
    ] {
        assert_eq!(r.count(kind), 1, "{kind:?}");
    }
    assert_eq!(r.count(PiiKind::Passport), 0);
}

#[test]
fn tokens_and_empty_text_are_stable() {
    untouched("");
    untouched("[PHONE] [EMAIL] [CARD] [IBAN] [TAX_ID] [IIN] [PASSPORT] [NAME]");
    untouched("😀😀 !!! ...");
}

#[test]
fn long_digit_soup_is_handled_quickly_and_safely() {
    // No catastrophic patterns: a megabyte of digits and separators finishes.
    let soup = "12 34-56 (78) ".repeat(80_000);
    let r = redact(&soup);
    assert!(!r.text.is_empty());
    let r2 = redact(&r.text);
    assert_eq!(r2.text, r.text);
}

mod hostile {
    //! No input panics the text path: arbitrary Unicode, weighted toward the
    //! characters that break byte-offset arithmetic (case-folding specials,
    //! combining marks, right-to-left and zero-width characters, non-ASCII
    //! digits) around the shapes the masker looks for (IBANs, phones,
    //! passports, e-mails).
    use proptest::prelude::*;
    use triage_domain::{category, language, pii, text};

    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            // Case-folding specials: Kelvin sign, long s, Turkish i's, sharp s,
            // final sigma, the Angstrom sign.
            prop::sample::select(vec![
                "\u{212A}", "\u{017F}", "\u{0130}", "\u{0131}", "ß", "ς", "\u{212B}", "ﬀ",
            ])
            .prop_map(str::to_string),
            // Combining marks, RTL and zero-width characters, a BOM, NUL.
            prop::sample::select(vec![
                "\u{0301}", "\u{0308}", "\u{200F}", "\u{202E}", "\u{200B}", "\u{FEFF}", "\u{0000}",
                "\u{0007}", "ע", "ب",
            ])
            .prop_map(str::to_string),
            // Non-ASCII digits.
            prop::sample::select(vec!["٣", "۷", "５", "१", "𝟘"]).prop_map(str::to_string),
            // Shapes the masker looks for.
            prop::sample::select(vec![
                "UA21 3223 1300 0002 6007 2335 6600 1",
                "KZ86125KZT5004100100",
                "+380 67 123 45 67",
                "(044) 123 45 67",
                "паспорт серия 45 08 № 123456",
                "passport FA123456",
                "ivan@example.com",
                "ІПН 1234567890",
                "тел. ",
            ])
            .prop_map(str::to_string),
            "[a-zA-Z0-9 ]{0,6}",
            any::<char>().prop_map(String::from),
        ]
    }

    fn hostile_text() -> impl Strategy<Value = String> {
        prop::collection::vec(piece(), 0..24).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn masking_language_and_normalisation_never_panic(s in hostile_text()) {
            let n = text::normalise(&s);
            prop_assert!(!n.text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
            let r = pii::redact(&n.text);
            // Masking only replaces values by tokens: it adds no control
            // character and keeps every line break.
            prop_assert!(!r.text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
            prop_assert_eq!(r.text.matches('\n').count(), n.text.matches('\n').count());
            let _ = language::detect(&r.text);
            let _ = text::has_letter_or_digit(&r.text);
            let _ = category::validate(std::slice::from_ref(&n.text));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in any::<String>()) {
            let r = pii::redact(&s);
            let _ = language::detect(&r.text);
            let _ = text::normalise(&s);
        }
    }

    #[test]
    fn the_kelvin_sign_and_long_s_next_to_an_iban_shape_are_safe() {
        for s in [
            "\u{212A}Z86125KZT5004100100",
            "U\u{017F}21 3223 1300 0002 6007 2335 6600 1",
            "\u{212A}\u{212A}00 0000 0000 0000",
        ] {
            let r = pii::redact(s);
            assert!(!r.text.is_empty());
        }
    }
}

#[test]
fn person_names_are_masked_and_streets_named_after_people_stay() {
    for (text, masked) in [
        (
            "Прошу передати Іванову Петру Сергійовичу, що ліфт не працює",
            "Прошу передати [NAME], що ліфт не працює",
        ),
        (
            "Звернулась Коваленко Ольга Миколаївна, кв. 5",
            "Звернулась [NAME], кв. 5",
        ),
        (
            "Начальник ЖЕД Петренко І.І. не відповідає",
            "Начальник ЖЕД [NAME] не відповідає",
        ),
        ("Мастер И. И. Сидоров не пришёл", "Мастер [NAME] не пришёл"),
        ("Прошу Сергея Петровича прийти", "Прошу [NAME] прийти"),
    ] {
        assert_eq!(redact(text).text, masked, "{text}");
        assert_eq!(redact(text).count(PiiKind::Name), 1, "{text}");
    }
    // Streets, squares and schools named after people are the place.
    for t in [
        "не горить ліхтар на вул. Миколи Бажана, 16",
        "яма на просп. Степана Бандери біля будинку 5",
        "ул. Т.Г. Шевченко, дом 3, нет воды",
        "вул. ім. Т. Г. Шевченка 12",
        "на проспекті Григоренка 7 не вивозять сміття",
        "у Голосіївському районі, Дніпровська набережна 14",
        "Київ Пасажирський, станція метро Шулявська",
        "ігнорують зупинку Жуляни 1 ( Ринок Столичний) намагаються",
        "звернулися до В.О. Голови РДА",
        "Київ, Дарницкий район, Ахматовой А. вул., 11-а",
        "( Відомості Верховної Ради України (ВВР), 2006, N 27 )",
        "P.S. Байдужих та безвідповідальних прошу покарати",
    ] {
        untouched(t);
    }
}
