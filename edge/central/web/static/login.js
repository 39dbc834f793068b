"use strict";
// The sign-in page: JSON to /login (so no other site's form can post it), then the app.
const T = {
  kk: {title: "Ситуациялық орталық", name: "Аты", password: "Құпиясөз", signin: "Кіру",
       wrong: "Аты немесе құпиясөз қате", locked: "Тым көп қате. Күтіңіз, секунд: ", failed: "Қате: "},
  ru: {title: "Ситуационный центр", name: "Имя", password: "Пароль", signin: "Войти",
       wrong: "Неверное имя или пароль", locked: "Слишком много ошибок. Подождите, секунд: ", failed: "Ошибка: "},
  en: {title: "Situational Center", name: "Name", password: "Password", signin: "Sign in",
       wrong: "Wrong name or password", locked: "Too many wrong tries. Wait, seconds: ", failed: "Error: "},
};
let lang = localStorage.getItem("kezek-lang") || "kk";
function apply() {
  document.documentElement.lang = lang;
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = T[lang][el.dataset.t];
  for (const b of document.querySelectorAll("[data-lang]")) b.classList.toggle("on", b.dataset.lang === lang);
}
document.getElementById("langs").addEventListener("click", (e) => {
  if (e.target.dataset.lang) { lang = e.target.dataset.lang; localStorage.setItem("kezek-lang", lang); apply(); }
});
document.getElementById("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  const err = document.getElementById("error");
  err.textContent = "";
  const r = await fetch("/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({name: document.getElementById("name").value,
                          password: document.getElementById("password").value, lang})});
  if (r.ok) { location.href = "/"; return; }
  const body = await r.json().catch(() => ({}));
  err.textContent = r.status === 429 ? T[lang].locked + (body.retry_s || "?")
    : r.status === 401 ? T[lang].wrong : T[lang].failed + (body.error || r.status);
});
apply();
document.body.dataset.ready = "1";
