// Supervisor review page: queue, accept / override / reroute, bulk accept,
// history. Plain browser JavaScript, no build step. Data is inserted with
// textContent only. Strings in uk, ru, kk and en; the language follows the
// browser's until one is picked.
"use strict";

// Script errors are kept where a test (and a supervisor's bug report) can read them.
window.triageErrors = [];
window.addEventListener("error", (e) => window.triageErrors.push(String(e.message)));
window.addEventListener("unhandledrejection", (e) => window.triageErrors.push(String(e.reason)));

const T = {
  uk: {
    title: "Розподіл звернень", logout: "Вийти", key_label: "API-ключ супервізора",
    login: "Увійти", queue: "Черга на розгляд", empty: "Черга порожня.",
    keys_hint: "Клавіші: j/k — наступне/попереднє, a — прийняти, o — змінити, r — повернути, x — позначити",
    appeal: "Звернення", deadline: "Термін відповіді", received: "Отримано", suggestion: "Пропозиція",
    confidence: "впевненість", prediction_set: "Імовірні підрозділи (набір прогнозу)",
    urgency: "Терміновість", category: "Категорія", place: "Місце",
    similar: "Схожі попередні звернення та куди їх направлено",
    accept: "Прийняти (a)", override: "Змінити підрозділ", search: "Пошук підрозділу",
    comment: "Коментар", override_btn: "Змінити (o)", reroute: "Повернути як непідвідомче",
    reason: "Причина", reroute_btn: "Повернути (r)", history: "Історія звернення",
    no_dept: "немає пропозиції", rerouted_because: "Повернуто підрозділом: ",
    duplicate_of: "Можливий дублікат звернення #", bad_key: "Ключ не прийнято.",
    need_dept: "Оберіть підрозділ.", need_reason: "Вкажіть причину.", none: "—",
    status_needs_review: "на розгляді", status_rerouted: "повернуто",
    urgency_normal: "звичайна", urgency_high: "висока", urgency_critical: "критична",
    days_left: "лишилося {n} дн.", due_today: "сьогодні", overdue: "прострочено на {n} дн.",
    select_confident: "Позначити з впевненістю від", accept_selected: "Прийняти позначені",
    similarity: "схожість",
  },
  ru: {
    title: "Распределение обращений", logout: "Выйти", key_label: "API-ключ супервизора",
    login: "Войти", queue: "Очередь на рассмотрение", empty: "Очередь пуста.",
    keys_hint: "Клавиши: j/k — следующее/предыдущее, a — принять, o — изменить, r — вернуть, x — отметить",
    appeal: "Обращение", deadline: "Срок ответа", received: "Получено", suggestion: "Предложение",
    confidence: "уверенность", prediction_set: "Вероятные подразделения (набор прогноза)",
    urgency: "Срочность", category: "Категория", place: "Место",
    similar: "Похожие прежние обращения и куда их направили",
    accept: "Принять (a)", override: "Изменить подразделение", search: "Поиск подразделения",
    comment: "Комментарий", override_btn: "Изменить (o)", reroute: "Вернуть как неподведомственное",
    reason: "Причина", reroute_btn: "Вернуть (r)", history: "История обращения",
    no_dept: "нет предложения", rerouted_because: "Возвращено подразделением: ",
    duplicate_of: "Возможный дубликат обращения #", bad_key: "Ключ не принят.",
    need_dept: "Выберите подразделение.", need_reason: "Укажите причину.", none: "—",
    status_needs_review: "на рассмотрении", status_rerouted: "возвращено",
    urgency_normal: "обычная", urgency_high: "высокая", urgency_critical: "критическая",
    days_left: "осталось {n} дн.", due_today: "сегодня", overdue: "просрочено на {n} дн.",
    select_confident: "Отметить с уверенностью от", accept_selected: "Принять отмеченные",
    similarity: "сходство",
  },
  kk: {
    title: "Өтініштерді бөлу", logout: "Шығу", key_label: "Супервизордың API кілті",
    login: "Кіру", queue: "Қарауға кезек", empty: "Кезек бос.",
    keys_hint: "Пернелер: j/k — келесі/алдыңғы, a — қабылдау, o — өзгерту, r — қайтару, x — белгілеу",
    appeal: "Өтініш", deadline: "Жауап беру мерзімі", received: "Түскен күні", suggestion: "Ұсыныс",
    confidence: "сенімділік", prediction_set: "Ықтимал бөлімшелер (болжам жиыны)",
    urgency: "Шұғылдығы", category: "Санаты", place: "Орны",
    similar: "Ұқсас бұрынғы өтініштер және олар жіберілген бөлімше",
    accept: "Қабылдау (a)", override: "Бөлімшені өзгерту", search: "Бөлімшені іздеу",
    comment: "Түсініктеме", override_btn: "Өзгерту (o)", reroute: "Қарауға жатпайды деп қайтару",
    reason: "Себебі", reroute_btn: "Қайтару (r)", history: "Өтініш тарихы",
    no_dept: "ұсыныс жоқ", rerouted_because: "Бөлімше қайтарды: ",
    duplicate_of: "Өтініштің қайталануы болуы мүмкін #", bad_key: "Кілт қабылданбады.",
    need_dept: "Бөлімшені таңдаңыз.", need_reason: "Себебін көрсетіңіз.", none: "—",
    status_needs_review: "қарауда", status_rerouted: "қайтарылды",
    urgency_normal: "қалыпты", urgency_high: "жоғары", urgency_critical: "өте шұғыл",
    days_left: "{n} күн қалды", due_today: "бүгін", overdue: "мерзімі {n} күнге өтті",
    select_confident: "Сенімділігі мынадан жоғарыларды белгілеу", accept_selected: "Белгіленгендерді қабылдау",
    similarity: "ұқсастық",
  },
  en: {
    title: "Appeal routing", logout: "Sign out", key_label: "Supervisor API key",
    login: "Sign in", queue: "Review queue", empty: "The queue is empty.",
    keys_hint: "Keys: j/k next/previous, a accept, o override, r reroute, x select",
    appeal: "Appeal", deadline: "Answer due", received: "Received", suggestion: "Suggestion",
    confidence: "confidence", prediction_set: "Likely departments (prediction set)",
    urgency: "Urgency", category: "Category", place: "Place",
    similar: "Similar past cases and where they went",
    accept: "Accept (a)", override: "Override department", search: "Search departments",
    comment: "Comment", override_btn: "Override (o)", reroute: "Send back as not competent",
    reason: "Reason", reroute_btn: "Reroute (r)", history: "History of appeal",
    no_dept: "no suggestion", rerouted_because: "Sent back by the department: ",
    duplicate_of: "Possible duplicate of appeal #", bad_key: "The key was not accepted.",
    need_dept: "Choose a department.", need_reason: "Give a reason.", none: "—",
    status_needs_review: "needs review", status_rerouted: "rerouted",
    urgency_normal: "normal", urgency_high: "high", urgency_critical: "critical",
    days_left: "{n} days left", due_today: "due today", overdue: "{n} days overdue",
    select_confident: "Select with confidence from", accept_selected: "Accept selected",
    similarity: "similarity",
  },
};
const LANGS = ["uk", "ru", "kk", "en"];
const LOCALES = { uk: "uk-UA", ru: "ru-RU", kk: "kk-KZ", en: "en-GB" };

/** The saved choice, else the first of the browser's languages we speak, else Ukrainian. */
function initialLang() {
  const saved = localStorage.getItem("triage.lang");
  if (LANGS.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || ""]) {
    const base = String(l).toLowerCase().split("-")[0];
    if (LANGS.includes(base)) return base;
  }
  return "uk";
}

const state = { lang: initialLang(), key: sessionStorage.getItem("triage.key") || "", queue: [], index: 0, departments: [], selected: new Set() };
const $ = (id) => document.getElementById(id);
const t = (k, n) => ((T[state.lang] && T[state.lang][k]) || T.en[k] || k).replace("{n}", String(n));

function applyLang() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  LANGS.forEach((l) => $("lang-" + l).classList.toggle("active", state.lang === l));
  renderDepartments();
  renderQueue();
}

function setLang(l) { state.lang = l; localStorage.setItem("triage.lang", l); applyLang(); }

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + state.key } };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) { const e = new Error((data && data.error && data.error.message) || r.statusText); e.status = r.status; throw e; }
  return data;
}

/** A department's name in the page's language (its code when it has no name). */
function deptName(code) {
  if (!code) return t("no_dept");
  const d = state.departments.find((x) => x.code === code);
  if (!d) return code;
  return d.names[state.lang] || d.names.en || d.names.uk || d.names.ru || Object.values(d.names)[0] || code;
}

function pct(p) { return Math.round((p || 0) * 100) + "%"; }

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }

/** "12 days left" / "due today" / "3 days overdue" for an ISO date (end of that day, local time). */
function timeLeft(iso) {
  if (!iso) return "";
  const end = new Date(iso + "T23:59:59");
  const days = Math.ceil((end - Date.now()) / 86400000) - 1;
  if (days > 0) return t("days_left", days);
  if (days === 0) return t("due_today");
  return t("overdue", -days);
}

async function login() {
  state.key = $("key-input").value.trim() || state.key;
  $("login-error").textContent = "";
  try {
    state.departments = await api("GET", "/v1/departments");
    sessionStorage.setItem("triage.key", state.key);
    $("login").hidden = true; $("app").hidden = false; $("logout-btn").hidden = false;
    renderDepartments();
    await loadQueue();
  } catch (e) {
    sessionStorage.removeItem("triage.key");
    $("login-error").textContent = t("bad_key") + " " + e.message;
  }
}

function logout() { sessionStorage.removeItem("triage.key"); state.key = ""; location.reload(); }

async function loadQueue(keepId) {
  const page = await api("GET", "/v1/review/queue");
  state.queue = page.items;
  const ids = new Set(state.queue.map((a) => a.id));
  state.selected.forEach((id) => { if (!ids.has(id)) state.selected.delete(id); });
  const at = keepId === undefined ? -1 : state.queue.findIndex((a) => a.id === keepId);
  state.index = at >= 0 ? at : Math.min(state.index, Math.max(0, state.queue.length - 1));
  renderQueue();
}

function renderQueue() {
  const ol = $("queue");
  if (!ol) return;
  ol.replaceChildren();
  $("queue-count").textContent = String(state.queue.length);
  state.queue.forEach((a, i) => {
    const s = a.suggestion;
    const li = el("li", undefined, a.status === "rerouted" ? "rerouted" : "");
    li.dataset.id = String(a.id);
    if (i === state.index) li.classList.add("selected");
    if (s && s.urgency && s.urgency.level !== "normal") li.classList.add("urgent");
    const box = el("input"); box.type = "checkbox"; box.className = "pick";
    box.checked = state.selected.has(a.id); box.disabled = !(s && s.department);
    box.addEventListener("click", (ev) => { ev.stopPropagation(); toggle(a.id, box.checked); });
    const head = el("span", "#" + a.id + " · " + (a.deadline ? timeLeft(a.deadline) : t("none")), "due");
    const conf = s && s.department ? " · " + pct(s.confidence) : "";
    li.append(box, head, el("span", conf, "conf"), el("span", a.text.slice(0, 120), "snippet"));
    li.addEventListener("click", () => { state.index = i; renderQueue(); });
    ol.append(li);
  });
  $("selected-count").textContent = String(state.selected.size);
  $("accept-selected-btn").disabled = state.selected.size === 0;
  renderCurrent();
}

function toggle(id, on) { if (on) state.selected.add(id); else state.selected.delete(id); renderQueue(); }

function selectConfident() {
  const min = Number($("min-confidence").value) / 100;
  state.queue.forEach((a) => {
    const s = a.suggestion;
    if (s && s.department && (s.confidence || 0) >= min) state.selected.add(a.id);
  });
  renderQueue();
}

/** Each department of the prediction set with its probability, most likely first. */
function predictionSet(s) {
  const prob = new Map((s.alternatives || []).map((x) => [x.department, x.probability]));
  if (s.department) prob.set(s.department, s.confidence);
  return (s.prediction_set || []).map((code) => [code, prob.get(code)]).sort((a, b) => (b[1] || 0) - (a[1] || 0));
}

function renderCurrent() {
  const a = state.queue[state.index];
  $("empty").hidden = !!a; $("current").hidden = !a;
  if (!a) return;
  const s = a.suggestion || { alternatives: [], prediction_set: [], evidence: { cases: [] } };
  $("cur-id").textContent = String(a.id);
  $("cur-status").textContent = t("status_" + a.status);
  $("cur-deadline").textContent = a.deadline || t("none");
  $("cur-left").textContent = a.deadline ? "(" + timeLeft(a.deadline) + ")" : "";
  $("cur-received").textContent = new Date(a.received_at).toLocaleString(LOCALES[state.lang]);
  const level = (s.urgency && s.urgency.level) || "normal";
  $("cur-urgency").textContent = t("urgency_" + level);
  $("cur-urgency").className = "badge urgency-" + level;
  $("cur-category").textContent = (a.category || []).join(" › ") || t("none");
  $("cur-place").textContent = [a.place.district, a.place.address].filter(Boolean).join(", ") || t("none");
  $("cur-reroute").hidden = !a.reroute_reason;
  $("cur-reroute").textContent = a.reroute_reason ? t("rerouted_because") + a.reroute_reason : "";
  $("cur-duplicate").hidden = !s.duplicate_of;
  $("cur-duplicate").textContent = s.duplicate_of ? t("duplicate_of") + s.duplicate_of : "";
  $("cur-text").textContent = a.text;
  $("cur-dept").textContent = deptName(s.department);
  $("cur-dept").title = s.department || "";
  $("cur-confidence").textContent = s.department ? pct(s.confidence) : t("none");
  const set = $("cur-set"); set.replaceChildren();
  predictionSet(s).forEach(([code, p]) => {
    const li = el("li", deptName(code) + " — " + (p === undefined ? "<1%" : pct(p)));
    li.dataset.code = code; set.append(li);
  });
  const sim = $("cur-similar"); sim.replaceChildren();
  ((s.evidence && s.evidence.cases) || []).slice(0, 5).forEach((c) => {
    const li = el("li");
    li.append(el("strong", "#" + c.id + " → " + deptName(c.department)),
      el("span", " (" + t("similarity") + " " + c.similarity.toFixed(2) + ") ", "hint"), el("span", c.snippet));
    sim.append(li);
  });
  $("action-error").textContent = "";
}

function renderDepartments() {
  const sel = $("dept-select");
  if (!sel) return;
  const q = $("dept-search").value.trim().toLowerCase();
  const prev = sel.value;
  sel.replaceChildren();
  state.departments.filter((d) => d.active).forEach((d) => {
    const name = deptName(d.code);
    const label = name === d.code ? name : name + " · " + d.code;
    const all = (label + " " + Object.values(d.names).join(" ")).toLowerCase();
    if (q && !all.includes(q)) return;
    const o = el("option", label); o.value = d.code; sel.append(o);
  });
  if ([...sel.options].some((o) => o.value === prev)) sel.value = prev;
  else if (sel.options.length === 1) sel.value = sel.options[0].value;
}

async function act(kind) {
  const a = state.queue[state.index];
  if (!a) return;
  $("action-error").textContent = "";
  try {
    if (kind === "accept") {
      await api("POST", "/v1/appeals/" + a.id + "/decision", {});
    } else if (kind === "override") {
      const dept = $("dept-select").value;
      if (!dept) { $("action-error").textContent = t("need_dept"); $("dept-search").focus(); return; }
      const comment = $("comment").value.trim();
      await api("POST", "/v1/appeals/" + a.id + "/decision", comment ? { department: dept, comment } : { department: dept });
    } else {
      const reason = $("reroute-reason").value.trim();
      if (!reason) { $("action-error").textContent = t("need_reason"); $("reroute-reason").focus(); return; }
      await api("POST", "/v1/appeals/" + a.id + "/reroute", { reason });
    }
    $("comment").value = ""; $("reroute-reason").value = ""; $("dept-search").value = ""; renderDepartments();
    state.selected.delete(a.id);
    await showHistory(a.id);
    await loadQueue();
  } catch (e) {
    $("action-error").textContent = e.message;
  }
}

/** Accepts every selected appeal's suggestion, one request each; stops at the first error. */
async function acceptSelected() {
  $("action-error").textContent = "";
  try {
    for (const id of [...state.selected]) {
      await api("POST", "/v1/appeals/" + id + "/decision", {});
      state.selected.delete(id);
    }
  } catch (e) {
    $("action-error").textContent = e.message;
  }
  await loadQueue();
}

async function showHistory(id) {
  const h = await api("GET", "/v1/appeals/" + id + "/history");
  $("history-panel").hidden = false;
  $("history-id").textContent = String(id);
  const ol = $("history"); ol.replaceChildren();
  h.entries.forEach((e) => {
    const d = e.detail || {};
    let what = e.action;
    if (d.department) what += " → " + deptName(d.department);
    if (d.reason) what += " (" + d.reason + ")";
    if (e.model_fingerprint) what += " · model " + e.model_fingerprint.slice(0, 12) + " · memory v" + e.case_memory_version;
    const li = el("li", new Date(e.at).toISOString().replace("T", " ").slice(0, 19) + " · " + e.actor + " · " + what);
    li.dataset.action = e.action;
    ol.append(li);
  });
}

function onKey(ev) {
  if ($("app").hidden) return;
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName)
    && document.activeElement.type !== "checkbox";
  if (typing) {
    if (ev.key === "Enter" && document.activeElement.id === "reroute-reason") act("reroute");
    if (ev.key === "Enter" && ["dept-search", "dept-select", "comment"].includes(document.activeElement.id)) act("override");
    if (ev.key === "Escape") document.activeElement.blur();
    return;
  }
  const cur = state.queue[state.index];
  if (ev.key === "a") { ev.preventDefault(); act("accept"); }
  else if (ev.key === "o") { ev.preventDefault(); $("dept-search").focus(); }
  else if (ev.key === "r") { ev.preventDefault(); $("reroute-reason").focus(); }
  else if (ev.key === "x" && cur && cur.suggestion && cur.suggestion.department) { toggle(cur.id, !state.selected.has(cur.id)); }
  else if (ev.key === "j") { state.index = Math.min(state.index + 1, state.queue.length - 1); renderQueue(); }
  else if (ev.key === "k") { state.index = Math.max(state.index - 1, 0); renderQueue(); }
}

document.addEventListener("DOMContentLoaded", () => {
  LANGS.forEach((l) => $("lang-" + l).addEventListener("click", () => setLang(l)));
  $("login-btn").addEventListener("click", login);
  $("key-input").addEventListener("keydown", (e) => { if (e.key === "Enter") login(); });
  $("logout-btn").addEventListener("click", logout);
  $("accept-btn").addEventListener("click", () => act("accept"));
  $("override-btn").addEventListener("click", () => act("override"));
  $("reroute-btn").addEventListener("click", () => act("reroute"));
  $("select-confident-btn").addEventListener("click", selectConfident);
  $("accept-selected-btn").addEventListener("click", acceptSelected);
  $("dept-search").addEventListener("input", renderDepartments);
  document.addEventListener("keydown", onKey);
  applyLang();
  if (state.key) login();
});
