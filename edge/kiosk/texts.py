"""What visitors read at the kiosk, on the hall banner and on a board line, in kk, ru and en.

The engine's refusals (edge.queue.policies.Refusal) carry their own sentences; here are
the sentences of the other reasons a visitor can meet (the printer, the system), the
short lines of LED boards, and the labels of the kiosk page. Kazakh first, same size.
"""

from __future__ import annotations

from typing import Any

from edge.queue.policies import kiosk_text

LANGS = ("kk", "ru", "en")

# Reasons that are not policy refusals of the engine: (code -> lang -> sentence).
OTHER: dict[str, dict[str, str]] = {
    "paper_out": {
        "kk": "Принтерде қағаз бітті: талон басылмайды. Қызметкерге хабарласыңыз.",
        "ru": "В принтере закончилась бумага: талон не напечатать. Обратитесь к сотруднику.",
        "en": "The printer is out of paper: no ticket can be printed. Please ask a member of staff.",
    },
    "printer_down": {
        "kk": "Принтер жұмыс істемей тұр: талон басылмайды. Қызметкерге хабарласыңыз.",
        "ru": "Принтер не работает: талон не напечатать. Обратитесь к сотруднику.",
        "en": "The printer is not working: no ticket can be printed. Please ask a member of staff.",
    },
    "numbers_exhausted": {
        "kk": "Бұл қызметтің бүгінгі талон нөмірлері бітті. Қызметкерге хабарласыңыз.",
        "ru": "Номера талонов этой услуги на сегодня закончились. Обратитесь к сотруднику.",
        "en": "This service has used all of today's ticket numbers. Please ask a member of staff.",
    },
    "iin_not_configured": {
        "kk": "Бұл орталықта ЖСН арқылы тіркелу әзірге жоқ. Жазылу кодын енгізіңіз немесе "
              "қызметкерге хабарласыңыз.",
        "ru": "Регистрация по ИИН в этом центре пока не работает. Введите код записи или "
              "обратитесь к сотруднику.",
        "en": "Check-in by IIN is not available here yet. Enter your booking code or ask a "
              "member of staff.",
    },
    "iin_short": {
        "kk": "ЖСН 12 цифрдан тұрады. Қайта енгізіңіз.",
        "ru": "ИИН состоит из 12 цифр. Введите его снова.",
        "en": "An IIN has 12 digits. Please enter it again.",
    },
    "slow_down": {
        "kk": "Сәл күте тұрыңыз да, қайта басыңыз.",
        "ru": "Подождите немного и нажмите снова.",
        "en": "Please wait a moment and try again.",
    },
    "error": {
        "kk": "Талон берілмеді: жүйеде ақау. Қызметкерге хабарласыңыз.",
        "ru": "Талон не выдан: сбой системы. Обратитесь к сотруднику.",
        "en": "No ticket was issued: a system fault. Please ask a member of staff.",
    },
    # Not a refusal: a visitor pressing the ticket button again while theirs prints.
    "ticket_printing": {
        "kk": "Талоныңыз {ticket} басылып жатыр, күте тұрыңыз.",
        "ru": "Ваш талон {ticket} печатается, подождите.",
        "en": "Your ticket {ticket} is printing, please wait.",
    },
    "iin_entry": {"kk": "ЖСН: {mask}", "ru": "ИИН: {mask}", "en": "IIN: {mask}"},
}

# Added to "no more tickets today" answers: when the visitor can come back.
NEXT_OPENING = {
    "kk": "Орталық келесі рет {opens} ашылады.",
    "ru": "Центр откроется снова {opens}.",
    "en": "The center opens again {opens}.",
}

# One line of an LED board (16 characters on most): the gist, in capitals.
SHORT: dict[str, dict[str, str]] = {
    "paper_out": {"kk": "ҚАҒАЗ БІТТІ", "ru": "НЕТ БУМАГИ", "en": "NO PAPER"},
    "printer_down": {"kk": "ПРИНТЕР АҚАУЫ", "ru": "ПРИНТЕР СЛОМАН", "en": "PRINTER FAULT"},
    "closed": {"kk": "ОРТАЛЫҚ ЖАБЫҚ", "ru": "ЦЕНТР ЗАКРЫТ", "en": "CLOSED"},
    "capacity_full": {"kk": "ТАЛОН БІТТІ", "ru": "ТАЛОНОВ НЕТ", "en": "NO TICKETS"},
    "daily_cap": {"kk": "ТАЛОН БІТТІ", "ru": "ТАЛОНОВ НЕТ", "en": "NO TICKETS"},
    "numbers_exhausted": {"kk": "ТАЛОН БІТТІ", "ru": "ТАЛОНОВ НЕТ", "en": "NO TICKETS"},
    "booking_only": {"kk": "ТЕК ЖАЗЫЛУМЕН", "ru": "ТОЛЬКО ПО ЗАПИСИ", "en": "BOOKING ONLY"},
    "too_early": {"kk": "ТІРКЕУ {from_time}", "ru": "РЕГИСТР. С {from_time}",
                  "en": "FROM {from_time}"},
    "too_late": {"kk": "КЕШІКТІҢІЗ", "ru": "ВЫ ОПОЗДАЛИ", "en": "TOO LATE"},
    "wrong_day": {"kk": "БАСҚА КҮНГЕ", "ru": "ДРУГОЙ ДЕНЬ", "en": "OTHER DAY"},
    "other_center": {"kk": "БАСҚА ОРТАЛЫҚ", "ru": "ДРУГОЙ ЦОН", "en": "OTHER CENTER"},
    "unknown_booking": {"kk": "ЖАЗЫЛУ ЖОҚ", "ru": "ЗАПИСИ НЕТ", "en": "NO BOOKING"},
    "booking_cancelled": {"kk": "ЖАЗЫЛУ ЖОЙЫЛДЫ", "ru": "ЗАПИСЬ ОТМЕНЕНА", "en": "CANCELLED"},
    "booking_rebooked": {"kk": "УАҚЫТ АУЫСТЫ", "ru": "ЗАПИСЬ ПЕРЕНЕС.", "en": "REBOOKED"},
    "booking_expired": {"kk": "МЕРЗІМІ ӨТТІ", "ru": "ЗАПИСЬ ИСТЕКЛА", "en": "EXPIRED"},
    "already_checked_in": {"kk": "ТАЛОН {ticket}", "ru": "ТАЛОН {ticket}",
                           "en": "TICKET {ticket}"},
    "bad_iin": {"kk": "ЖСН ҚАТЕ", "ru": "НЕВЕРНЫЙ ИИН", "en": "WRONG IIN"},
    "iin_short": {"kk": "ЖСН ҚАТЕ", "ru": "НЕВЕРНЫЙ ИИН", "en": "WRONG IIN"},
    "iin_not_configured": {"kk": "КОДТЫ ЕНГІЗІҢІЗ", "ru": "ВВЕДИТЕ КОД", "en": "USE THE CODE"},
    "slow_down": {"kk": "КҮТЕ ТҰРЫҢЫЗ", "ru": "ПОДОЖДИТЕ", "en": "PLEASE WAIT"},
    "error": {"kk": "ЖҮЙЕ АҚАУЫ", "ru": "СБОЙ СИСТЕМЫ", "en": "SYSTEM FAULT"},
    "ticket_printing": {"kk": "{ticket} БАСЫЛУДА", "ru": "{ticket} ПЕЧАТАЕТСЯ",
                        "en": "{ticket} PRINTING"},
    "iin_entry": {"kk": "ЖСН {mask}", "ru": "ИИН {mask}", "en": "IIN {mask}"},
}

# Labels of the kiosk page.
LABELS: dict[str, dict[str, str]] = {
    "kk": {"choose": "Қызметті таңдаңыз", "booked": "Мен алдын ала жазылдым",
           "category": "Жеңілдігіңіз бар ма?", "iin": "ЖСН бойынша", "code": "Жазылу коды",
           "iin_prompt": "ЖСН-ді енгізіңіз (12 цифр)", "code_prompt": "Жазылу кодын енгізіңіз",
           "confirm": "Растау", "erase": "Өшіру", "back": "Артқа", "close": "Жабу",
           "your_ticket": "Сіздің талоныңыз", "printing": "Талон басылып жатыр, алыңыз",
           "no_paper": "Нөміріңізді есте сақтаңыз", "ahead": "Алдыңызда: {n} адам",
           "wait": "Шамамен {m} мин күтесіз", "checked_in": "Сіз тіркелдіңіз",
           "refused": "Талон берілмеді", "waiting": "Кезекте: {n}",
           "booking_only": "Тек алдын ала жазылу бойынша", "closed": "Орталық жабық",
           "opens": "Ашылады: {opens}", "offline": "Байланыс жоқ, күте тұрыңыз",
           "sending": "Күте тұрыңыз…", "late": "Сіз кешіктіңіз: кезекке жалпы тәртіппен"},
    "ru": {"choose": "Выберите услугу", "booked": "У меня есть запись",
           "category": "У вас есть льгота?", "iin": "По ИИН", "code": "Код записи",
           "iin_prompt": "Введите ИИН (12 цифр)", "code_prompt": "Введите код записи",
           "confirm": "Подтвердить", "erase": "Стереть", "back": "Назад", "close": "Закрыть",
           "your_ticket": "Ваш талон", "printing": "Талон печатается, возьмите его",
           "no_paper": "Запомните ваш номер", "ahead": "Перед вами: {n} чел.",
           "wait": "Ожидание около {m} мин", "checked_in": "Вы зарегистрированы",
           "refused": "Талон не выдан", "waiting": "В очереди: {n}",
           "booking_only": "Только по предварительной записи", "closed": "Центр закрыт",
           "opens": "Откроется: {opens}", "offline": "Нет связи, подождите",
           "sending": "Подождите…", "late": "Вы опоздали: в общую очередь"},
    "en": {"choose": "Choose a service", "booked": "I have a booking",
           "category": "Are you entitled to priority?", "iin": "By IIN", "code": "Booking code",
           "iin_prompt": "Enter your IIN (12 digits)", "code_prompt": "Enter your booking code",
           "confirm": "Confirm", "erase": "Erase", "back": "Back", "close": "Close",
           "your_ticket": "Your ticket", "printing": "Your ticket is printing, please take it",
           "no_paper": "Please remember your number", "ahead": "Ahead of you: {n}",
           "wait": "About {m} min wait", "checked_in": "You are checked in",
           "refused": "No ticket issued", "waiting": "Waiting: {n}",
           "booking_only": "Booked visitors only", "closed": "The center is closed",
           "opens": "Opens {opens}", "offline": "No connection, please wait",
           "sending": "Please wait…", "late": "You are late: you join the general queue"},
}

CATEGORIES: dict[str, dict[str, str]] = {
    "normal": {"kk": "Жеңілдігім жоқ", "ru": "Нет льготы", "en": "No"},
    "pensioner": {"kk": "Зейнеткер", "ru": "Пенсионер", "en": "Pensioner"},
    "disability": {"kk": "Мүмкіндігі шектеулі адам", "ru": "Человек с инвалидностью",
                   "en": "Person with a disability"},
    "large_family": {"kk": "Көп балалы отбасы", "ru": "Многодетная семья",
                     "en": "Large family"},
}


def _fill(template: str, params: dict[str, Any]) -> str:
    values = {"ticket": "", "from_time": "", "opens": "", "slot": "", "day": "", "mask": "",
              **{k: str(v) for k, v in params.items()}}
    return " ".join(template.format(**values).split())   # an empty value leaves no gap


def sentence(code: str, lang: str, params: dict[str, Any],
             how_to_book: dict[str, str] | None = None) -> str:
    """What a visitor reads for `code` in `lang` (a sentence for every code: an unknown one
    reads as a system fault, never as an engine message meant for staff)."""
    text = kiosk_text(code, lang, params, how_to_book)
    if text is not None:
        text = " ".join(text.split())
    else:
        texts = OTHER.get(code) or OTHER["error"]
        text = _fill(texts.get(lang) or texts["ru"], params)
    if code in ("capacity_full", "daily_cap", "numbers_exhausted") and params.get("opens"):
        text += " " + _fill(NEXT_OPENING.get(lang, NEXT_OPENING["ru"]), params)
    return text


def short(code: str, lang: str, params: dict[str, Any]) -> str:
    """The board line for `code` in `lang`."""
    texts = SHORT.get(code) or SHORT["error"]
    return _fill(texts.get(lang) or texts["ru"], params)


def all_langs(code: str, params: dict[str, Any],
              how_to_book: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(sentences, board lines) for every language."""
    return ({lang: sentence(code, lang, params, how_to_book) for lang in LANGS},
            {lang: short(code, lang, params) for lang in LANGS})
