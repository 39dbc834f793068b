"""What operators read on the panel, in kk, ru and en: the labels, and every refusal (the
engine's own reasons by their code, translated; the panel's own) in the operator's language.
Kazakh first: it is the default language of the sign-in page."""

from __future__ import annotations

LANGS = ("kk", "ru", "en")
DEFAULT_LANG = "kk"

# Refusals: code -> lang -> sentence. The engine's English detail is shown under it.
REFUSALS: dict[str, dict[str, str]] = {
    "queue_empty": {"kk": "Кезекте ешкім жоқ.", "ru": "В очереди никого нет.",
                    "en": "No one is waiting."},
    "no_ticket": {"kk": "Терезеде шақырылған келуші жоқ.", "ru": "У окна нет вызванного посетителя.",
                  "en": "No visitor is called to this window."},
    "in_service": {"kk": "Келуші қызмет көрсетілуде: бұл әрекет енді болмайды.",
                   "ru": "Посетитель уже обслуживается: это действие уже недоступно.",
                   "en": "The visitor is already in service: this is no longer possible."},
    "window_not_open": {"kk": "Терезе ашық емес: алдымен ашыңыз немесе жалғастырыңыз.",
                        "ru": "Окно не открыто: сначала откройте или продолжите работу.",
                        "en": "The window is not open: open or resume it first."},
    "recall_too_soon": {"kk": "Қайта шақыруға әлі ерте.", "ru": "Повторный вызов пока рано.",
                        "en": "Too soon to call again."},
    "not_waiting": {"kk": "Бұл талон кезекте емес.", "ru": "Этот талон не в очереди.",
                    "en": "This ticket is not waiting."},
    "not_printed": {"kk": "Талон әлі басылған жоқ.", "ru": "Талон ещё не напечатан.",
                    "en": "The ticket has not been printed yet."},
    "return_too_soon": {"kk": "Келмеген келушіні шақыруға әлі ерте.",
                        "ru": "Неявившегося посетителя вызывать пока рано.",
                        "en": "Too soon to call this no-show back."},
    "return_off": {"kk": "Бұл орталықта келмеген талон қайтарылмайды.",
                   "ru": "В этом центре неявка окончательна.",
                   "en": "No-shows are final at this center."},
    "ticket_final": {"kk": "Талон жабылған: келуші жаңа талон алады.",
                     "ru": "Талон закрыт: посетитель берёт новый талон.",
                     "en": "The ticket is closed: the visitor takes a new one."},
    "unknown_ticket": {"kk": "Бүгін мұндай талон жоқ.", "ru": "Сегодня такого талона нет.",
                       "en": "No such ticket today."},
    "not_parked": {"kk": "Талон кейінге қалдырылмаған.", "ru": "Талон не отложен.",
                   "en": "The ticket is not parked."},
    "not_no_show": {"kk": "Талон келмеген деп белгіленбеген.", "ru": "Талон не отмечен неявкой.",
                    "en": "The ticket is not a no-show."},
    "window_state": {"kk": "Терезенің күйі бұған мүмкіндік бермейді.",
                     "ru": "Состояние окна не позволяет этого.",
                     "en": "The window's state does not allow this."},
    "window_busy": {"kk": "Терезеде келуші бар: алдымен аяқтаңыз, жіберіңіз немесе "
                          "кейінге қалдырыңыз.",
                    "ru": "У окна посетитель: сначала завершите, переведите или отложите.",
                    "en": "A visitor is at the window: finish, transfer or park first."},
    "no_window": {"kk": "Бұл қызметті ешбір терезе көрсетпейді.",
                  "ru": "Эту услугу не обслуживает ни одно окно.",
                  "en": "No window serves this service."},
    "unknown_service": {"kk": "Мұндай қызмет жоқ.", "ru": "Такой услуги нет.",
                        "en": "No such service."},
    "window_taken": {"kk": "Бұл терезеде басқа оператор жұмыс істейді.",
                     "ru": "За этим окном работает другой оператор.",
                     "en": "Another operator is signed in at this window."},
    "not_signed_in": {"kk": "Сіз бұл терезеде жүйеге кірмегенсіз.",
                      "ru": "Вы не вошли в систему за этим окном.",
                      "en": "You are not signed in at this window."},
    "window_removed": {"kk": "Бұл терезе баптаудан алынып тасталды.",
                       "ru": "Это окно убрано из настроек.",
                       "en": "This window was removed from the configuration."},
    "unknown_window": {"kk": "Мұндай терезе жоқ.", "ru": "Такого окна нет.",
                       "en": "No such window."},
    # The panel's own refusals.
    "bad_pin": {"kk": "Оператор немесе PIN қате.", "ru": "Неверный оператор или PIN.",
                "en": "Wrong operator or PIN."},
    "locked": {"kk": "Тым көп қате әрекет: {minutes} минуттан кейін қайталаңыз.",
               "ru": "Слишком много ошибок: повторите через {minutes} мин.",
               "en": "Too many wrong tries: try again in {minutes} min."},
    "slow_down": {"kk": "Сәл күте тұрыңыз.", "ru": "Подождите немного.",
                  "en": "Please wait a moment."},
    "csrf": {"kk": "Бетті жаңартыңыз.", "ru": "Обновите страницу.",
             "en": "Reload the page."},
    "signed_out": {"kk": "Сессия аяқталды: қайта кіріңіз.", "ru": "Сеанс завершён: войдите снова.",
                   "en": "Your session ended: sign in again."},
    "wrong_window": {"kk": "Бұл панель басқа терезеге арналған.",
                     "ru": "Эта панель для другого окна.",
                     "en": "This panel belongs to another window."},
    "service_not_allowed": {"kk": "Бұл терезенің қызметтері сізге рұқсат етілмеген.",
                            "ru": "Услуги этого окна вам не разрешены.",
                            "en": "You may not serve this window's services."},
    "pc_bound": {"kk": "Бұл компьютер {window}-терезеге бекітілген.",
                 "ru": "Этот компьютер закреплён за окном {window}.",
                 "en": "This PC belongs to window {window}."},
    "bad_request": {"kk": "Қате сұрау.", "ru": "Неверный запрос.", "en": "Bad request."},
    "busy": {"kk": "Жүйе жауап бермей тұр: қайталаңыз.", "ru": "Система не отвечает: повторите.",
             "en": "The system did not answer: try again."},
    "error": {"kk": "Жүйеде ақау.", "ru": "Сбой системы.", "en": "A system fault."},
}

# Labels of the page: key -> lang -> text (the page picks the operator's language).
LABELS: dict[str, dict[str, str]] = {
    "title": {"kk": "Оператор панелі", "ru": "Панель оператора", "en": "Operator panel"},
    "operator": {"kk": "Оператор", "ru": "Оператор", "en": "Operator"},
    "pin": {"kk": "PIN", "ru": "PIN", "en": "PIN"},
    "sign_in": {"kk": "Кіру", "ru": "Войти", "en": "Sign in"},
    "sign_out": {"kk": "Шығу", "ru": "Выйти", "en": "Sign out"},
    "choose_window": {"kk": "Терезені таңдаңыз", "ru": "Выберите окно", "en": "Choose a window"},
    "window": {"kk": "Терезе", "ru": "Окно", "en": "Window"},
    "taken": {"kk": "бос емес", "ru": "занято", "en": "taken"},
    "call_next": {"kk": "Келесі", "ru": "Следующий", "en": "Call next"},
    "recall": {"kk": "Қайта шақыру", "ru": "Повторить", "en": "Recall"},
    "start": {"kk": "Бастау", "ru": "Начать", "en": "Start"},
    "done": {"kk": "Аяқтау", "ru": "Завершить", "en": "Done"},
    "no_show": {"kk": "Келмеді", "ru": "Не явился", "en": "No-show"},
    "transfer": {"kk": "Жіберу", "ru": "Перевести", "en": "Transfer"},
    "park": {"kk": "Кейінге қалдыру", "ru": "Отложить", "en": "Park"},
    "pause": {"kk": "Үзіліс", "ru": "Перерыв", "en": "Pause"},
    "resume": {"kk": "Жалғастыру", "ru": "Продолжить", "en": "Resume"},
    "open": {"kk": "Терезені ашу", "ru": "Открыть окно", "en": "Open window"},
    "close": {"kk": "Терезені жабу", "ru": "Закрыть окно", "en": "Close window"},
    "call_number": {"kk": "Нөмір бойынша шақыру", "ru": "Вызвать по номеру",
                    "en": "Call by number"},
    "call": {"kk": "Шақыру", "ru": "Вызвать", "en": "Call"},
    "return": {"kk": "Кезекке қайтару", "ru": "Вернуть в очередь", "en": "Return to line"},
    "waiting": {"kk": "Кезекте", "ru": "В очереди", "en": "Waiting"},
    "parked": {"kk": "Қалдырылғандар", "ru": "Отложенные", "en": "Parked"},
    "no_shows": {"kk": "Келмегендер", "ru": "Неявки", "en": "No-shows"},
    "visitor": {"kk": "Келуші", "ru": "Посетитель", "en": "Visitor"},
    "no_visitor": {"kk": "Терезеде келуші жоқ", "ru": "У окна нет посетителя",
                   "en": "No visitor at the window"},
    "service": {"kk": "Қызмет", "ru": "Услуга", "en": "Service"},
    "category": {"kk": "Санат", "ru": "Категория", "en": "Category"},
    "slot": {"kk": "Жазылу уақыты", "ru": "Время записи", "en": "Booked slot"},
    "waited": {"kk": "Күтті, мин", "ru": "Ждал, мин", "en": "Waited, min"},
    "printed": {"kk": "Басылды", "ru": "Напечатан", "en": "Printed"},
    "yes": {"kk": "иә", "ru": "да", "en": "yes"}, "no": {"kk": "жоқ", "ru": "нет", "en": "no"},
    "stages": {"kk": "Кезеңдер", "ru": "Этапы", "en": "Stages"},
    "note": {"kk": "Ескертпе", "ru": "Примечание", "en": "Note"},
    "today": {"kk": "Бүгін", "ru": "Сегодня", "en": "Today"},
    "served": {"kk": "Қызмет көрсетілді", "ru": "Обслужено", "en": "Served"},
    "avg_service": {"kk": "Орташа уақыт, мин", "ru": "Среднее время, мин",
                    "en": "Average time, min"},
    "reason_break": {"kk": "Үзіліс", "ru": "Перерыв", "en": "Break"},
    "reason_technical": {"kk": "Техникалық", "ru": "Технический", "en": "Technical"},
    "reason_paperwork": {"kk": "Құжаттар", "ru": "Документы", "en": "Paperwork"},
    "cancel": {"kk": "Болдырмау", "ru": "Отмена", "en": "Cancel"},
    "reconnecting": {"kk": "Байланыс қалпына келуде…", "ru": "Переподключение…",
                     "en": "Reconnecting…"},
    "state_open": {"kk": "ашық", "ru": "открыто", "en": "open"},
    "state_paused": {"kk": "үзіліс", "ru": "перерыв", "en": "paused"},
    "state_closed": {"kk": "жабық", "ru": "закрыто", "en": "closed"},
    "called": {"kk": "шақырылды", "ru": "вызван", "en": "called"},
    "serving": {"kk": "қызмет көрсетілуде", "ru": "обслуживается", "en": "in service"},
    "booked": {"kk": "жазылу бойынша", "ru": "по записи", "en": "booked"},
    "manager": {"kk": "Менеджер", "ru": "Менеджер", "en": "Manager"},
    "cat_normal": {"kk": "жалпы", "ru": "общая", "en": "general"},
    "cat_pensioner": {"kk": "зейнеткер", "ru": "пенсионер", "en": "pensioner"},
    "cat_disability": {"kk": "мүгедектігі бар", "ru": "с инвалидностью", "en": "disability"},
    "cat_large_family": {"kk": "көпбалалы", "ru": "многодетные", "en": "large family"},
}


def refusal(code: str, lang: str, **params: object) -> str:
    """The sentence for `code` in `lang` (Russian, then the generic fault, if missing)."""
    texts = REFUSALS.get(code) or REFUSALS["error"]
    text = texts.get(lang) or texts["ru"]
    try:
        return text.format(**params)
    except (KeyError, IndexError):
        return text


def labels() -> dict[str, dict[str, str]]:
    """Every label, per language: lang -> key -> text (what the page is sent)."""
    return {lang: {k: v.get(lang) or v["ru"] for k, v in LABELS.items()} for lang in LANGS}
