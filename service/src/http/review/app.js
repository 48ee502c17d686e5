// Supervisor review page: queue, accept / override / reroute, history.
// Plain browser JavaScript, no build step. Data is inserted with textContent.
"use strict";

const T = {
  uk: {
    title: "Розподіл звернень", logout: "Вийти", key_label: "API-ключ супервізора",
    login: "Увійти", queue: "Черга на розгляд", empty: "Черга порожня.",
    keys_hint: "Клавіші: j/k — наступне/попереднє, a — прийняти, o — змінити, r — повернути",
    appeal: "Звернення", deadline: "Термін", received: "Отримано", suggestion: "Пропозиція",
    confidence: "впевненість", alternatives: "Альтернативи", similar: "Схожі попередні звернення",
    accept: "Прийняти (a)", override: "Змінити підрозділ", search: "Пошук підрозділу",
    comment: "Коментар", override_btn: "Змінити (o)", reroute: "Повернути як непідвідомче",
    reason: "Причина", reroute_btn: "Повернути (r)", history: "Історія звернення",
    no_dept: "немає пропозиції", rerouted_because: "Повернуто підрозділом: ",
    duplicate_of: "Можливий дублікат звернення #", bad_key: "Ключ не прийнято.",
    need_dept: "Оберіть підрозділ.", need_reason: "Вкажіть причину.", none: "—",
    status_needs_review: "на розгляді", status_rerouted: "повернуто",
  },
  en: {
    title: "Appeal routing", logout: "Sign out", key_label: "Supervisor API key",
    login: "Sign in", queue: "Review queue", empty: "The queue is empty.",
    keys_hint: "Keys: j/k next/previous, a accept, o override, r reroute",
    appeal: "Appeal", deadline: "Deadline", received: "Received", suggestion: "Suggestion",
    confidence: "confidence", alternatives: "Alternatives", similar: "Similar past cases",
    accept: "Accept (a)", override: "Override department", search: "Search departments",
    comment: "Comment", override_btn: "Override (o)", reroute: "Send back as not competent",
    reason: "Reason", reroute_btn: "Reroute (r)", history: "History of appeal",
    no_dept: "no suggestion", rerouted_because: "Sent back by the department: ",
    duplicate_of: "Possible duplicate of appeal #", bad_key: "The key was not accepted.",
    need_dept: "Choose a department.", need_reason: "Give a reason.", none: "—",
    status_needs_review: "needs review", status_rerouted: "rerouted",
  },
};

const state = { lang: localStorage.getItem("triage.lang") || "uk", key: sessionStorage.getItem("triage.key") || "", queue: [], index: 0, departments: [] };
const $ = (id) => document.getElementById(id);
const t = (k) => (T[state.lang] && T[state.lang][k]) || T.en[k] || k;

function applyLang() {
  document.documentElement.lang = state.lang;
  document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  $("lang-uk").classList.toggle("active", state.lang === "uk");
  $("lang-en").classList.toggle("active", state.lang === "en");
  renderDepartments();
  renderQueue();
}

async function api(method, path, body) {
  const opts = { method, headers: { Authorization: "Bearer " + state.key } };
  if (body !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(body); }
  const r = await fetch(path, opts);
  const data = r.status === 204 ? null : await r.json().catch(() => null);
  if (!r.ok) { const e = new Error((data && data.error && data.error.message) || r.statusText); e.status = r.status; throw e; }
  return data;
}

function deptName(code) {
  const d = state.departments.find((x) => x.code === code);
  if (!d) return code || t("no_dept");
  return d.names[state.lang] || d.names.en || d.names.uk || Object.values(d.names)[0] || code;
}

function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }

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
    const li = el("li", undefined, a.status === "rerouted" ? "rerouted" : "");
    li.dataset.id = String(a.id);
    if (i === state.index) li.classList.add("selected");
    li.append(el("span", "#" + a.id + " · " + (a.deadline || t("none")), "due"), el("span", a.text.slice(0, 120), "snippet"));
    li.addEventListener("click", () => { state.index = i; renderQueue(); });
    ol.append(li);
  });
  renderCurrent();
}

function renderCurrent() {
  const a = state.queue[state.index];
  $("empty").hidden = !!a; $("current").hidden = !a;
  if (!a) return;
  const s = a.suggestion || { alternatives: [], evidence: { cases: [] } };
  $("cur-id").textContent = String(a.id);
  $("cur-status").textContent = t("status_" + a.status);
  $("cur-deadline").textContent = a.deadline || t("none");
  $("cur-received").textContent = new Date(a.received_at).toLocaleString(state.lang === "uk" ? "uk-UA" : "en-GB");
  $("cur-place").textContent = [a.place.district, a.place.address].filter(Boolean).join(", ");
  $("cur-reroute").hidden = !a.reroute_reason;
  $("cur-reroute").textContent = a.reroute_reason ? t("rerouted_because") + a.reroute_reason : "";
  $("cur-duplicate").hidden = !s.duplicate_of;
  $("cur-duplicate").textContent = s.duplicate_of ? t("duplicate_of") + s.duplicate_of : "";
  $("cur-text").textContent = a.text;
  $("cur-dept").textContent = s.department ? deptName(s.department) + " (" + s.department + ")" : t("no_dept");
  $("cur-confidence").textContent = s.department ? Math.round((s.confidence || 0) * 100) + "%" : t("none");
  const alts = $("cur-alternatives"); alts.replaceChildren();
  (s.alternatives || []).forEach((x) => alts.append(el("li", deptName(x.department) + " — " + Math.round(x.probability * 100) + "%")));
  const sim = $("cur-similar"); sim.replaceChildren();
  ((s.evidence && s.evidence.cases) || []).forEach((c) => sim.append(el("li", "#" + c.id + " [" + deptName(c.department) + ", " + c.similarity.toFixed(2) + "] " + c.snippet)));
  $("action-error").textContent = "";
}

function renderDepartments() {
  const sel = $("dept-select");
  if (!sel) return;
  const q = $("dept-search").value.trim().toLowerCase();
  const prev = sel.value;
  sel.replaceChildren();
  state.departments.filter((d) => d.active).forEach((d) => {
    const label = deptName(d.code) + " (" + d.code + ")";
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
    await showHistory(a.id);
    await loadQueue();
  } catch (e) {
    $("action-error").textContent = e.message;
  }
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
  const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName);
  if (typing) {
    if (ev.key === "Enter" && document.activeElement.id === "reroute-reason") act("reroute");
    if (ev.key === "Enter" && ["dept-search", "dept-select", "comment"].includes(document.activeElement.id)) act("override");
    if (ev.key === "Escape") document.activeElement.blur();
    return;
  }
  if (ev.key === "a") { ev.preventDefault(); act("accept"); }
  else if (ev.key === "o") { ev.preventDefault(); $("dept-search").focus(); }
  else if (ev.key === "r") { ev.preventDefault(); $("reroute-reason").focus(); }
  else if (ev.key === "j") { state.index = Math.min(state.index + 1, state.queue.length - 1); renderQueue(); }
  else if (ev.key === "k") { state.index = Math.max(state.index - 1, 0); renderQueue(); }
}

document.addEventListener("DOMContentLoaded", () => {
  $("lang-uk").addEventListener("click", () => { state.lang = "uk"; localStorage.setItem("triage.lang", "uk"); applyLang(); });
  $("lang-en").addEventListener("click", () => { state.lang = "en"; localStorage.setItem("triage.lang", "en"); applyLang(); });
  $("login-btn").addEventListener("click", login);
  $("key-input").addEventListener("keydown", (e) => { if (e.key === "Enter") login(); });
  $("logout-btn").addEventListener("click", logout);
  $("accept-btn").addEventListener("click", () => act("accept"));
  $("override-btn").addEventListener("click", () => act("override"));
  $("reroute-btn").addEventListener("click", () => act("reroute"));
  $("dept-search").addEventListener("input", renderDepartments);
  document.addEventListener("keydown", onKey);
  applyLang();
  if (state.key) login();
});
