"use strict";
// The admin's screen (/accounts): staff accounts and sign-in lockouts. The server refuses
// all of it to anyone but an admin; this page only shows what the server allows.
// And everyone's own password (/password, from the name in the header).
Object.assign(T.kk, {
  own_h: "Құпиясөзді өзгерту", current: "Қазіргі құпиясөз", repeat: "Жаңа құпиясөзді қайталаңыз",
  change_pw: "Өзгерту", own_help: "Өзгерткеннен кейін қайта кіресіз.", e_repeat: "Жаңа құпиясөздер сәйкес емес",
  e_wrong_current: "Қазіргі құпиясөз қате", e_locked: "Тым көп қате. Кейінірек көріңіз",
  add_h: "Жаңа есептік жазба", name: "Аты", role: "Рөлі", created: "Құрылған",
  sessions: "Сеанстар", r_viewer: "бақылаушы", r_admin: "әкімші", add: "Қосу", password: "Құпиясөз",
  new_password: "Жаңа құпиясөз", set_password: "Құпиясөзді ауыстыру", remove: "Жою", sure: "Растаңыз: жою",
  you: "сіз", lockouts: "Кіру бұғаттаулары", k_name: "есептік жазба", k_addr: "мекенжай", left: "қалды",
  unlock: "Бұғатты алу", no_locks: "Бұғатталған жоқ", saved: "Сақталды", actions: "Әрекеттер",
  roles_help: "Бақылаушы барлық экран мен есепті көреді; әкімші сонымен қатар есептік жазбаларды басқарады.",
  e_admin_only: "Бұл бетті тек әкімші ашады", e_name: "Аты: 1–64 кіші латын әрпі, цифр, '.', '_' немесе '-'",
  e_password: "Құпиясөз кемінде 10 таңба болсын", e_exists: "Мұндай аты бар есептік жазба бар",
  e_last_admin: "Соңғы әкімшіні жоюға немесе бақылаушы етуге болмайды",
  e_self: "Өз есептік жазбаңызды мұнда жоюға не рөлін өзгертуге болмайды; мұны басқа әкімші істейді",
  e_unknown: "Мұндай есептік жазба жоқ; тізімді жаңартыңыз", e_role: "Рөл: бақылаушы немесе әкімші",
  e_csrf: "Бетті жаңартыңыз", e_body: "Өрістерді толтырыңыз"});
Object.assign(T.ru, {
  own_h: "Смена пароля", current: "Текущий пароль", repeat: "Повторите новый пароль",
  change_pw: "Сменить", own_help: "После смены войдите заново.", e_repeat: "Новые пароли не совпадают",
  e_wrong_current: "Текущий пароль неверен", e_locked: "Слишком много ошибок. Попробуйте позже",
  add_h: "Новая учётная запись", name: "Имя", role: "Роль", created: "Создана",
  sessions: "Сеансы", r_viewer: "наблюдатель", r_admin: "администратор", add: "Добавить", password: "Пароль",
  new_password: "Новый пароль", set_password: "Сменить пароль", remove: "Удалить", sure: "Точно удалить?",
  you: "вы", lockouts: "Блокировки входа", k_name: "учётная запись", k_addr: "адрес", left: "осталось",
  unlock: "Снять блокировку", no_locks: "Блокировок нет", saved: "Сохранено", actions: "Действия",
  roles_help: "Наблюдатель видит все экраны и отчёты; администратор ещё и управляет учётными записями.",
  e_admin_only: "Эта страница только для администраторов", e_name: "Имя: 1–64 строчные латинские буквы, цифры, '.', '_' или '-'",
  e_password: "Пароль — не короче 10 символов", e_exists: "Учётная запись с таким именем уже есть",
  e_last_admin: "Последнего администратора нельзя удалить или сделать наблюдателем",
  e_self: "Свою учётную запись здесь нельзя удалить или понизить; это делает другой администратор",
  e_unknown: "Такой учётной записи нет; обновите список", e_role: "Роль: наблюдатель или администратор",
  e_csrf: "Обновите страницу", e_body: "Заполните поля"});
Object.assign(T.en, {
  own_h: "Change your password", current: "Current password", repeat: "Repeat the new password",
  change_pw: "Change", own_help: "Then sign in again.", e_repeat: "The new passwords differ",
  e_wrong_current: "The current password is wrong", e_locked: "Too many wrong tries. Try later",
  add_h: "New account", name: "Name", role: "Role", created: "Created",
  sessions: "Sessions", r_viewer: "viewer", r_admin: "admin", add: "Add", password: "Password",
  new_password: "New password", set_password: "Set password", remove: "Remove", sure: "Sure? Remove",
  you: "you", lockouts: "Sign-in lockouts", k_name: "account", k_addr: "address", left: "left",
  unlock: "Unlock", no_locks: "Nothing is locked", saved: "Saved", actions: "Actions",
  roles_help: "A viewer reads every screen and report; an admin also manages the accounts.",
  e_admin_only: "Only an admin may open this page", e_name: "Name: 1–64 lowercase Latin letters, digits, '.', '_' or '-'",
  e_password: "The password needs at least 10 characters", e_exists: "An account with this name exists already",
  e_last_admin: "The last admin can be neither removed nor made a viewer",
  e_self: "You cannot remove or demote your own account here; another admin can",
  e_unknown: "No such account; reload the list", e_role: "Role: viewer or admin",
  e_csrf: "Reload the page", e_body: "Fill in the fields"});

async function accountsCall(url, body) {
  const r = body === undefined ? await fetch(url) : await post(url, body);
  const data = await r.json().catch(() => ({}));
  return {ok: r.ok, status: r.status, data};
}
function say(result) {
  const el = document.getElementById("acc-msg");
  if (!el) return;
  const {ok, data} = result;
  el.className = ok ? "ok" : "error";
  el.textContent = ok ? t("saved") : (data.code && T.en["e_" + data.code] ? t("e_" + data.code) : data.error || String(result.status));
}
async function change(url, body) {
  const result = await accountsCall(url, body);
  if (result.ok && result.data.signed_out) { location.href = "/login"; return; }
  await accountsScreen();
  say(result);
}

async function accountsScreen() {
  const got = await accountsCall("/api/accounts");
  if (!got.ok) {
    main.replaceChildren(h("h2", {}, t("accounts")), h("p", {id: "acc-msg", class: "error"}));
    say(got);
    return;
  }
  const {accounts, roles, lockouts} = got.data;
  const roleSelect = (a) => h("select", {class: "role", ...(a.you ? {disabled: ""} : {}),
    onchange: (e) => change(`/api/accounts/${a.name}/role`, {role: e.target.value})},
    roles.map((r) => { const o = h("option", {value: r}, t("r_" + r)); if (r === a.role) o.selected = true; return o; }));
  const removeButton = (a) => {
    const b = h("button", {type: "button", class: "rm", ...(a.you ? {disabled: ""} : {})}, t("remove"));
    // Two clicks: the first asks, the second removes (no accidental removal).
    b.addEventListener("click", () => {
      if (b.dataset.armed) change(`/api/accounts/${a.name}/remove`, {});
      else { b.dataset.armed = "1"; b.textContent = t("sure"); b.classList.add("danger"); }
    });
    return b;
  };
  const passwordCell = (a) => {
    const input = h("input", {type: "password", class: "pw", autocomplete: "new-password", placeholder: t("new_password")});
    return h("span", {class: "pw-cell"}, input, h("button", {type: "button", class: "set-pw",
      onclick: () => change(`/api/accounts/${a.name}/password`, {password: input.value})}, t("set_password")));
  };
  const nameInput = h("input", {id: "acc-name", autocomplete: "off"});
  const roleInput = h("select", {id: "acc-role"}, roles.map((r) => h("option", {value: r}, t("r_" + r))));
  const pwInput = h("input", {id: "acc-password", type: "password", autocomplete: "new-password"});
  main.replaceChildren(
    h("h2", {}, t("accounts")), h("p", {class: "help"}, t("roles_help")),
    h("p", {id: "acc-msg"}),
    h("table", {id: "accounts", class: "grid small"},
      h("thead", {}, h("tr", {}, [t("name"), t("role"), t("created"), t("sessions"), t("password"), ""].map((x) => h("th", {}, x)))),
      h("tbody", {}, accounts.map((a) => h("tr", {"data-name": a.name, "data-role": a.role},
        h("td", {}, a.name, a.you ? h("small", {}, ` (${t("you")})`) : null), h("td", {}, roleSelect(a)),
        h("td", {}, new Date(a.created_ms).toISOString().slice(0, 10)), h("td", {class: "num"}, a.sessions),
        h("td", {}, passwordCell(a)), h("td", {}, removeButton(a)))))),
    h("h3", {}, t("add_h")),
    h("form", {id: "acc-add", class: "acc-add", onsubmit: (e) => {
      e.preventDefault();
      change("/api/accounts", {name: nameInput.value, role: roleInput.value, password: pwInput.value});
    }}, h("label", {}, t("name"), nameInput), h("label", {}, t("role"), roleInput),
      h("label", {}, t("password"), pwInput), h("button", {type: "submit", id: "acc-submit"}, t("add"))),
    h("h3", {}, t("lockouts")),
    lockouts.length ? h("table", {id: "lockouts", class: "grid small"}, h("tbody", {}, lockouts.map((l) =>
      h("tr", {"data-key": l.key}, h("td", {}, t("k_" + l.kind)), h("td", {}, l.who),
        h("td", {}, `${t("left")} ${Math.ceil(l.retry_s / 60)} ${t("min")}`),
        h("td", {}, h("button", {type: "button", class: "unlock",
          onclick: () => change("/api/lockouts/clear", {key: l.key})}, t("unlock")))))))
      : h("p", {id: "lockouts"}, t("no_locks")));
}

function passwordScreen() {
  const field = (id, label) => h("label", {}, label, h("input", {id, type: "password",
    autocomplete: id === "pw-current" ? "current-password" : "new-password"}));
  const value = (id) => document.getElementById(id).value;
  main.replaceChildren(h("h2", {}, t("own_h")), h("p", {class: "help"}, t("own_help")),
    h("form", {id: "pw-form", class: "acc-add", onsubmit: async (e) => {
      e.preventDefault();
      if (value("pw-new") !== value("pw-repeat")) { say({ok: false, data: {code: "repeat"}}); return; }
      const result = await accountsCall("/api/password", {current: value("pw-current"), password: value("pw-new")});
      if (result.ok && result.data.signed_out) { location.href = "/login"; return; }
      say(result);
    }}, field("pw-current", t("current")), field("pw-new", t("new_password")), field("pw-repeat", t("repeat")),
      h("button", {type: "submit", id: "pw-submit"}, t("change_pw"))),
    h("p", {id: "acc-msg"}));
}
