// caucasus-watch web UI. No framework, no inline script (strict CSP). Article text only ever
// reaches the page through textContent / text nodes: nothing from an article is parsed as HTML.
"use strict";

const $ = (sel) => document.querySelector(sel);
const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

// ---- credentials ------------------------------------------------------------------------------
// The session is an HttpOnly cookie the page never sees; the CSRF cookie is readable and goes
// back as X-CSRF-Token on every request (the server compares the two on state-changing ones).

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return null;
}

function withCredentials(options) {
  const headers = { ...((options && options.headers) || {}) };
  const csrf = cookie("cwatch_csrf");
  if (csrf) headers["X-CSRF-Token"] = csrf;
  return { ...(options || {}), headers, credentials: "same-origin" };
}

class LoginNeeded extends Error {}

async function getJSON(url, options) {
  const response = await fetch(url, withCredentials(options));
  if (response.status === 401 && !url.startsWith("/v1/auth/login")) {
    showLogin();
    throw new LoginNeeded("log in first");
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(typeof data.detail === "string" ? data.detail : `HTTP ${response.status}`);
  return data;
}

function postJSON(url, body) {
  return getJSON(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

function patchJSON(url, body) {
  return getJSON(url, { method: "PATCH", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
}

let me = null;

function showUser(user) {
  me = user;
  $("#who").textContent = user ? `${user.user} (${user.role})` : "";
  $("#logout").hidden = !user || user.local;
  $("#nav-users").hidden = !user || user.role !== "admin";
  $("#filters").hidden = !user;
  document.querySelector("nav").hidden = !user;
}

function stopStreams() {
  if (liveSource) { liveSource.close(); liveSource = null; }
  for (const source of alertStreams.values()) source.close();
  alertStreams.clear();
  streamsReady.clear();
}

function showLogin() {
  stopStreams();
  showUser(null);
  // What the last user saw does not stay in the page for the next one.
  tokensOf = null;
  for (const shown of ["#token-new", "#user-link"]) { $(shown).hidden = true; $(shown).textContent = ""; }
  for (const list of document.querySelectorAll("#sub-table tbody, #token-table tbody, #user-table tbody, #user-token-table tbody, .results, .log, #facets, #timeline, #map, #story-columns, #claims tbody")) clear(list);
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== "view-login";
}

async function logIn(body) {
  showError("");
  try {
    await postJSON("/v1/auth/login", body);
    showUser(await getJSON("/v1/auth/me"));
    if (!location.hash.startsWith("#/") || location.hash === "#/login") location.hash = "#/live";
    refresh();
  } catch (err) {
    showError(err.message);
  }
}

async function logOut() {
  try { await postJSON("/v1/auth/logout", {}); } catch (err) { /* ended anyway */ }
  showLogin();
  location.reload();  // nothing of the session survives in this page's memory
}

async function loadTokens() {
  try {
    const data = await getJSON(`/v1/tokens?user=${encodeURIComponent(me.user)}`);
    const body = $("#token-table tbody");
    clear(body);
    for (const t of data.tokens) {
      const revoke = t.revoked ? null : el("button", { type: "button", onclick: () => revokeToken(t.id) }, "Revoke");
      body.append(el("tr", { "data-token-id": t.id },
        el("td", {}, el("code", {}, t.id)), el("td", {}, t.label), el("td", {}, (t.created || "").slice(0, 16)),
        el("td", {}, (t.expires || "never").slice(0, 16)), el("td", {}, t.revoked ? "revoked" : "active"), el("td", {}, revoke)));
    }
  } catch (err) {
    if (!(err instanceof LoginNeeded)) showError(err.message);
  }
}

async function createToken(event) {
  event.preventDefault();
  showError("");
  try {
    const made = await postJSON("/v1/tokens", { label: $("#token-label").value.trim() });
    const shown = $("#token-new");
    shown.textContent = `New token (shown once, copy it now): ${made.token}`;
    shown.hidden = false;
    $("#token-label").value = "";
    await loadTokens();
  } catch (err) {
    showError(err.message);
  }
}

async function revokeToken(id) {
  try {
    await getJSON(`/v1/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
    await loadTokens();
  } catch (err) {
    showError(err.message);
  }
}

async function setPassword(event) {
  event.preventDefault();
  showError("");
  try {
    await postJSON("/v1/auth/password", { current: $("#pw-current").value, new: $("#pw-new").value });
    $("#pw-current").value = ""; $("#pw-new").value = "";
    $("#pw-done").hidden = false;
  } catch (err) {
    showError(err.message);
  }
}

// ---- users (admins; the server refuses everyone else whatever this page shows) --------------

const ROLES = ["viewer", "editor", "admin"];
let tokensOf = null;  // whose tokens the table below the users shows

async function loadUsers() {
  try {
    const data = await getJSON("/v1/users");
    $("#users-total").textContent = `${data.total}`;
    const body = $("#user-table tbody");
    clear(body);
    for (const u of data.users) {
      const role = el("select", { class: "user-role", "aria-label": `role of ${u.name}`, onchange: (event) => changeUser(u.name, { role: event.target.value }) },
        ROLES.map((r) => el("option", { value: r, selected: r === u.role }, r)));
      body.append(el("tr", { "data-user": u.name },
        el("td", {}, u.name), el("td", {}, role),
        el("td", { class: "user-state" }, u.disabled ? "disabled" : "active"),
        el("td", {}, u.has_password ? "set" : "none yet"),
        el("td", { class: "user-wait" }, u.login_wait_s ? `${u.login_wait_s} s` : ""),
        el("td", {},
          el("button", { type: "button", class: "user-toggle", onclick: () => changeUser(u.name, { disabled: !u.disabled }) }, u.disabled ? "Enable" : "Disable"),
          el("button", { type: "button", class: "user-login-link", onclick: () => userLoginLink(u.name) }, "Login link"),
          u.login_wait_s ? el("button", { type: "button", class: "user-unlock", onclick: () => unlockUser(u.name) }, "Unlock") : null,
          el("button", { type: "button", class: "user-tokens", onclick: () => loadUserTokens(u.name) }, "Tokens"))));
    }
    if (tokensOf) await loadUserTokens(tokensOf);
  } catch (err) {
    if (!(err instanceof LoginNeeded)) showError(err.message);
  }
}

function showLoginLink(name, link) {
  const shown = $("#user-link");
  shown.textContent = `Login link for ${name} (shown once, valid 24 h, single use): ${link}`;
  shown.hidden = false;
}

async function createUser(event) {
  event.preventDefault();
  showError("");
  try {
    const made = await postJSON("/v1/users", { name: $("#user-name").value.trim(), role: $("#user-role").value });
    if (made.login_link) showLoginLink(made.name, made.login_link);
    $("#user-name").value = "";
  } catch (err) {
    showError(err.message);
  }
  await loadUsers();
}

async function changeUser(name, change) {
  showError("");
  try {
    await patchJSON(`/v1/users/${encodeURIComponent(name)}`, change);
  } catch (err) {
    showError(err.message);  // e.g. the last admin: the table shows what stands
  }
  await loadUsers();
}

async function userLoginLink(name) {
  showError("");
  try {
    const made = await postJSON(`/v1/users/${encodeURIComponent(name)}/login-link`, {});
    showLoginLink(name, made.login_link);
  } catch (err) {
    showError(err.message);
  }
}

async function unlockUser(name) {
  showError("");
  try {
    await postJSON(`/v1/users/${encodeURIComponent(name)}/unlock`, {});
  } catch (err) {
    showError(err.message);
  }
  await loadUsers();
}

async function loadUserTokens(name) {
  tokensOf = name;
  $("#user-tokens-for").textContent = `of ${name}`;
  try {
    const data = await getJSON(`/v1/tokens?user=${encodeURIComponent(name)}`);
    const body = $("#user-token-table tbody");
    clear(body);
    for (const t of data.tokens) {
      const revoke = t.revoked ? null : el("button", { type: "button", class: "user-token-revoke", onclick: () => revokeUserToken(t.id) }, "Revoke");
      body.append(el("tr", { "data-token-id": t.id },
        el("td", {}, el("code", {}, t.id)), el("td", {}, t.label), el("td", {}, (t.created || "").slice(0, 16)),
        el("td", {}, (t.expires || "never").slice(0, 16)), el("td", { class: "token-state" }, t.revoked ? "revoked" : "active"), el("td", {}, revoke)));
    }
  } catch (err) {
    if (!(err instanceof LoginNeeded)) showError(err.message);
  }
}

async function revokeUserToken(id) {
  showError("");
  try {
    await getJSON(`/v1/tokens/${encodeURIComponent(id)}`, { method: "DELETE" });
  } catch (err) {
    showError(err.message);
  }
  if (tokensOf) await loadUserTokens(tokensOf);
}

// ---- filters ---------------------------------------------------------------------------------

const FILTER_FIELDS = ["q", "lang", "country", "affiliation", "event", "entity", "since", "change"];

function filterParams() {
  const params = new URLSearchParams();
  for (const name of FILTER_FIELDS) {
    const value = $(`#filters [name=${name}]`).value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

function filterObject() {
  const f = {};
  for (const name of ["lang", "country", "affiliation", "event", "entity", "change"]) {
    const value = $(`#filters [name=${name}]`).value.trim();
    if (value) f[name] = value.split(",").map((s) => s.trim()).filter(Boolean);
  }
  const since = $("#f-since").value;
  if (since) f.since = since;
  return f;
}

function setFilter(name, value) {
  const field = $(`#filters [name=${name}]`);
  if (field) field.value = value;
  refresh();
}

// ---- rendering a report line -----------------------------------------------------------------

function segmentsNode(segments) {
  const span = el("span", {});
  for (const seg of segments) span.append(seg.em ? el("em", { class: "hl" }, seg.text) : document.createTextNode(seg.text));
  return span;
}

function reportItem(hit, fresh) {
  const source = hit.source || {};
  const hl = hit.highlight_segments || {};
  const headline = hl.headline && hl.headline.length ? segmentsNode(hl.headline[0]) : document.createTextNode(hit.headline || "(no headline)");
  const snippet = hl.body && hl.body.length
    ? el("p", {}, ...hl.body.map((frag) => [segmentsNode(frag), " … "]))
    : el("p", {}, hit.snippet || "");
  const story = hit.story_root || hit.story_id; // the story it lives on as after merges (issue 20)
  const storyLink = story ? el("a", { href: `#/story/${encodeURIComponent(story)}`, class: "story-link" },
    hit.versions ? `${hit.versions} versions of this story` : "story") : null;
  const external = hit.url && /^https?:\/\//i.test(hit.url) ? el("a", { href: hit.url, rel: "noopener noreferrer nofollow", target: "_blank" }, "source ↗") : null;
  return el("li", { class: fresh ? "fresh" : "", "data-report-id": hit.report_id },
    el("h4", {}, headline),
    el("div", { class: "meta" },
      el("span", { class: "badge" }, source.name || "?"),
      el("span", { class: "badge" }, hit.language || "und"),
      source.affiliation ? el("span", { class: "badge" }, source.affiliation) : null,
      ...eventBadges(hit), ...changeBadges(hit),
      " ", hit.date || hit.published || "", " ", storyLink, " ", external),
    hit.primary_evidence ? el("p", { class: "evidence" }, el("mark", {}, hit.primary_evidence)) : null,
    snippet);
}

// The event the report is about first (with the sentence that says so, shown above the
// snippet), then the other event types it has.
function eventBadges(hit) {
  const primary = hit.primary_event;
  const others = (hit.event_types || []).filter((e) => e !== primary);
  return [
    primary ? el("span", { class: "badge primary", title: "what the report is about" }, primary) : null,
    ...others.map((e) => el("span", { class: "badge" }, e)),
  ];
}

// ---- statement history: edited and withdrawn reports, and their diff ---------------------

// A badge linking to the report's history when its source edited or withdrew it.
function changeBadges(hit) {
  if (hit.change !== "edited" && hit.change !== "withdrawn") return [];
  const href = `#/report/${encodeURIComponent(hit.report_id)}`;
  const label = hit.change === "withdrawn" ? "withdrawn" : `edited · v${Number(hit.version) || 2}`;
  const when = hit.change === "withdrawn" ? hit.withdrawn_at : hit.edited_at;
  return [el("a", { class: `badge change ${hit.change}`, href, title: when ? `${hit.change} ${when}` : null }, label)];
}

const DIFF_TAGS = { add: ["ins", "+"], del: ["del", "−"], same: ["span", " "], hunk: ["span", ""] };

async function showHistory(reportId) {
  const box = $("#history");
  clear(box);
  box.removeAttribute("data-change");
  try {
    const data = await getJSON(`/ui/v1/report/${encodeURIComponent(reportId)}/history`);
    showError("");
    const source = data.source || {};
    box.dataset.change = data.change || "";
    const diff = el("div", { class: "diff", role: "group", "aria-label": "changes against the previous version" },
      ...data.diff.map((line) => {
        const [tag, mark] = DIFF_TAGS[line.op] || DIFF_TAGS.same;
        return el(tag, { class: `diff-line diff-${line.op}` }, mark, line.text);
      }));
    box.append(
      el("h3", {}, data.headline || "(no headline)"),
      el("p", { class: "meta" }, `${source.name || "?"} · version ${data.version}`,
        data.edited_at ? ` · edited ${data.edited_at}` : "",
        data.story_id ? [" · ", el("a", { href: `#/story/${encodeURIComponent(data.story_id)}` }, "story")] : null,
        data.url && /^https?:\/\//i.test(data.url) ? [" · ", el("a", { href: data.url, rel: "noopener noreferrer nofollow", target: "_blank" }, "source ↗")] : null),
      data.withdrawn_at
        ? el("p", { class: "withdrawn-note", role: "note" }, `Withdrawn: the source stopped showing this statement (seen gone ${data.withdrawn_at}). Its last text is kept and stays searchable.`)
        : null,
      data.diff.length ? el("h4", {}, "What changed in the last edit") : null,
      data.diff.length ? diff : el("p", { class: "hint" }, data.version > 1 ? "No text change recorded for this version." : "First version: the source has not changed it."),
      data.diff_cut ? el("p", { class: "hint diff-cut" }, "The change is longer than shown here.") : null);
  } catch (err) {
    showError(err.message);
  }
}

// ---- source health ---------------------------------------------------------------------------

function when(epochSeconds) {
  return epochSeconds ? new Date(epochSeconds * 1000).toISOString().slice(0, 16).replace("T", " ") : "never";
}

function gap(seconds) {
  if (seconds == null) return "learning";
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

async function showSources() {
  const body = $("#sources-table tbody");
  try {
    const data = await getJSON("/ui/v1/sources");
    showError("");
    clear(body);
    $("#sources-summary").textContent = `${data.sources.length} sources, ${data.flagged} silent or failing`;
    for (const s of data.sources) {
      const flagged = s.state === "silent" || s.state === "failing";
      body.append(el("tr", { class: flagged ? `flagged ${s.state}` : "", "data-source": s.name, "data-state": s.state },
        el("td", {}, s.name, s.official ? el("span", { class: "badge" }, "official") : null),
        el("td", {}, s.kind), el("td", {}, el("span", { class: `badge state-${s.state}` }, s.state)),
        el("td", {}, when(s.last_success)), el("td", {}, when(s.last_item)),
        el("td", {}, s.items_per_day == null ? "" : Number(s.items_per_day).toFixed(1)),
        el("td", {}, gap(s.usual_gap_s)), el("td", {}, String(s.consecutive_failures ?? 0)),
        el("td", { class: "error-text" }, s.last_error || "")));
    }
  } catch (err) {
    clear(body);
    showError(err.message);
  }
}

// ---- live feed --------------------------------------------------------------------------------

let liveSource = null;

function startLive() {
  if (liveSource) liveSource.close();
  $("#live-state").textContent = "connecting…";
  liveSource = new EventSource(`/v1/live?${filterParams()}`);
  liveSource.addEventListener("ready", () => { $("#live-state").textContent = "connected"; });
  liveSource.addEventListener("report", (event) => {
    const hit = JSON.parse(event.data);
    const list = $("#live-list");
    list.prepend(reportItem(hit, true));
    while (list.children.length > 200) list.removeChild(list.lastChild);
  });
  // One of the user's subscriptions keeps failing to deliver: said here, where they work.
  liveSource.addEventListener("channel_failing", (event) => {
    const notice = JSON.parse(event.data);
    $("#live-list").prepend(el("li", { class: "channel-failing", "data-subscription": notice.subscription_id },
      el("strong", {}, `Alerts of "${notice.name || notice.subscription_id}" are not getting through (${notice.channel}). `),
      notice.reason || "",
      " ", el("a", { href: "#/subscriptions" }, "See its deliveries")));
  });
  liveSource.onerror = () => { $("#live-state").textContent = "reconnecting…"; };
}

// ---- search -------------------------------------------------------------------------------------

let nextCursor = null;

async function runSearch(append) {
  const params = filterParams();
  params.set("size", "20");
  params.set("collapse", $("#f-collapse").checked ? "true" : "false");
  if (append && nextCursor) params.set("cursor", nextCursor);
  try {
    const data = await getJSON(`/ui/v1/search?${params}`);
    showError("");
    const list = $("#search-list");
    if (!append) clear(list);
    for (const hit of data.hits) list.append(reportItem(hit, false));
    $("#search-total").textContent = `${data.total}${data.total_relation === "gte" ? "+" : ""} reports` + (data.stories != null ? `, ${data.stories} stories` : "");
    nextCursor = data.next_cursor;
    $("#more").hidden = !nextCursor;
    renderFacets(data.facets || {});
    lastTotal = `${data.total}${data.total_relation === "gte" ? "+" : ""}`;
    updateExportLink();
  } catch (err) {
    showError(err.message);
  }
}

// ---- export -----------------------------------------------------------------------------------

let lastTotal = null;
const EXPORT_NAMES = { csv: "CSV", acled: "ACLED-shaped CSV", geojson: "GeoJSON", jsonl: "JSON Lines" };

// The link downloads every match of the filters above (the same parameters as the search), in
// the chosen format; the server streams it and caps it (the note says when the cap applies).
function updateExportLink() {
  const params = filterParams();
  const format = $("#export-format").value;
  params.set("format", format);
  const link = $("#export-link");
  link.href = `/v1/export?${params}`;
  link.textContent = `Export ${EXPORT_NAMES[format] || format}`;
  const note = $("#export-note");
  note.textContent = lastTotal == null ? "" : `${lastTotal} reports; ` +
    "large exports stream for a while, and stop at the server's row cap" +
    (format === "acled" ? "; reports without an event give no row" : "") +
    (format === "geojson" ? "; one point per place a report mentions" : "");
}

// A saved search is the query and filters above under a name; its Atom feed's URL carries the
// feed's token, shown once.
async function saveSearch(event) {
  event.preventDefault();
  const json = { "Content-Type": "application/json" };
  const body = { name: $("#save-name").value.trim(), query: $("#q").value.trim(), filters: filterObject() };
  try {
    const saved = await getJSON("/v1/saved-searches", { method: "POST", headers: json, body: JSON.stringify(body) });
    const feed = await getJSON("/v1/feeds", { method: "POST", headers: json, body: JSON.stringify({ target: "saved_search", id: saved.id }) });
    showError("");
    const link = $("#feed-url");
    link.href = feed.url;
    link.textContent = feed.url;
    link.hidden = false;
    $("#feed-id").textContent = feed.feed_id;
    $("#feed-note").hidden = false;
    $("#save-name").value = "";
  } catch (err) {
    showError(err.message);
  }
}

const FACET_PARAM = { language: "lang", country: "country", affiliation: "affiliation", event: "event", entity: "entity" };

function renderFacets(facets) {
  const box = $("#facets");
  clear(box);
  for (const [name, buckets] of Object.entries(facets)) {
    if (!buckets.length) continue;
    box.append(el("h4", {}, name));
    for (const b of buckets) {
      const param = FACET_PARAM[name];
      box.append(param
        ? el("button", { type: "button", class: "facet", "data-facet": name, onclick: () => setFilter(param, b.value) }, `${b.value} (${b.count})`)
        : el("div", { class: "meta" }, `${b.value} (${b.count})`));
    }
  }
}

// ---- story page -----------------------------------------------------------------------------

async function showStory(storyId) {
  $("#story-id").textContent = storyId;
  try {
    const data = await getJSON(`/ui/v1/story/${encodeURIComponent(storyId)}`);
    showError("");
    const meta = $("#story-meta");
    clear(meta);
    meta.append(
      el("p", {}, `${data.total} versions. Events: `, ...data.events.map((e) => el("span", { class: "badge" }, `${e.type} (${e.reports})`))),
      el("p", {}, "Entities: ", ...data.entities.slice(0, 40).map((e) => el("span", { class: "badge", title: e.id }, `${e.name} (${e.type})`))));
    const body = $("#claims tbody");
    clear(body);
    for (const c of data.claims) {
      body.append(el("tr", {}, el("td", {}, c.kind), el("td", {}, `${c.text}${c.approximate ? " (approx.)" : ""}`),
        el("td", {}, c.subject || ""), el("td", {}, c.claimant_stated ? c.claimant : `${c.claimant} (outlet)`),
        el("td", {}, c.source || ""), el("td", {}, c.side)));
    }
    if (!data.claims.length) body.append(el("tr", {}, el("td", { colspan: 6 }, "No casualty or displacement figures in this story.")));
    const cols = $("#story-columns");
    clear(cols);
    for (const col of data.columns) {
      cols.append(el("div", { class: "column", "data-side": col.side },
        el("h4", {}, `${col.label} (${col.versions.length})`),
        ...col.versions.map((v) => el("div", { class: "version" },
          v.url && /^https?:\/\//i.test(v.url)
            ? el("a", { href: v.url, rel: "noopener noreferrer nofollow", target: "_blank" }, el("strong", {}, v.headline || "(no headline)"))
            : el("strong", {}, v.headline || "(no headline)"),
          el("div", { class: "meta" }, `${(v.source || {}).name || "?"} · ${(v.source || {}).affiliation || ""} · ${v.language} · ${v.date || ""}`),
          el("div", {}, ...(v.event_types || []).map((e) => el("span", { class: "badge" }, e)), ...changeBadges(v)),
          el("div", { class: "meta" }, (v.entities || []).map((e) => e.name).join(", "))))));
    }
  } catch (err) {
    showError(err.message);
  }
}

// ---- timeline and map ------------------------------------------------------------------------

let reference = null;
let overviewCount = "primary"; // or "all": every event type a report has

async function showOverview() {
  try {
    const [data, ref] = await Promise.all([
      getJSON(`/ui/v1/overview?${filterParams()}&count=${overviewCount}`),
      reference ? Promise.resolve(reference) : getJSON("/ui/static/places.json"),
    ]);
    reference = ref;
    showError("");
    $("#overview-total").textContent = `${data.total} reports, ` +
      (overviewCount === "primary" ? "each counted once, under its primary event" : "counted under every event type");
    const toggle = $("#overview-count");
    if (toggle && !toggle.dataset.bound) {
      toggle.dataset.bound = "1";
      toggle.addEventListener("change", () => { overviewCount = toggle.checked ? "all" : "primary"; showOverview(); });
    }
    drawTimeline(data.timeline);
    drawMap(data.places, ref);
  } catch (err) {
    showError(err.message);
  }
}

function drawTimeline(rows) {
  const box = $("#timeline");
  clear(box);
  const dates = [...new Set(rows.flatMap((r) => r.buckets.map((b) => b.date)))].sort();
  if (!dates.length) { box.append(el("p", { class: "hint" }, "No event-labelled reports.")); return; }
  const left = 170, rowH = 26, width = 900;
  const step = (width - left - 10) / Math.max(dates.length, 1);
  const max = Math.max(1, ...rows.flatMap((r) => r.buckets.map((b) => b.count)));
  const chart = svg("svg", { width, height: rows.length * rowH + 30, viewBox: `0 0 ${width} ${rows.length * rowH + 30}`, role: "img", "aria-label": "timeline" });
  rows.forEach((row, i) => {
    const y = i * rowH + 10;
    chart.append(svg("text", { x: 4, y: y + 14 }, `${row.event} (${row.total})`));
    for (const b of row.buckets) {
      if (!b.count) continue;
      const h = Math.max(2, (rowH - 6) * b.count / max);
      const x = left + dates.indexOf(b.date) * step;
      const bar = svg("rect", { class: "bar", x, y: y + rowH - 6 - h, width: Math.max(2, step - 2), height: h });
      bar.append(svg("title", {}, `${row.event}: ${b.count} on ${b.date.slice(0, 10)}`));
      chart.append(bar);
    }
  });
  chart.append(svg("text", { x: left, y: rows.length * rowH + 25 }, dates[0].slice(0, 10)));
  chart.append(svg("text", { x: width - 80, y: rows.length * rowH + 25 }, dates[dates.length - 1].slice(0, 10)));
  box.append(chart);
}

function drawMap(places, ref) {
  const box = $("#map");
  clear(box);
  const b = ref.bounds, width = 900;
  const kx = width / (b.east - b.west);
  const ky = kx * 1.3; // rough equirectangular correction at ~40°N
  const height = Math.round((b.north - b.south) * ky);
  const px = (lon) => (lon - b.west) * kx;
  const py = (lat) => (b.north - lat) * ky;
  const map = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "map of places mentioned" });
  map.append(svg("rect", { class: "land", x: 0, y: 0, width, height }));
  map.append(svg("polygon", { class: "sea", points: ref.coast.map(([lon, lat]) => `${px(lon)},${py(lat)}`).join(" ") }));
  for (const lake of ref.lakes) map.append(svg("ellipse", { class: "sea", cx: px(lake.lon), cy: py(lake.lat), rx: lake.rx * kx, ry: lake.ry * ky }));
  for (let lon = Math.ceil(b.west); lon <= b.east; lon++) map.append(svg("line", { class: "grid", x1: px(lon), x2: px(lon), y1: 0, y2: height }));
  for (let lat = Math.ceil(b.south); lat <= b.north; lat++) map.append(svg("line", { class: "grid", y1: py(lat), y2: py(lat), x1: 0, x2: width }));
  for (const c of ref.cities) {
    map.append(svg("circle", { class: "city", cx: px(c.lon), cy: py(c.lat), r: 2.5 }));
    map.append(svg("text", { x: px(c.lon) + 4, y: py(c.lat) - 3 }, c.name));
  }
  const max = Math.max(1, ...places.map((p) => p.reports));
  for (const p of places) {
    const dot = svg("circle", { class: "place", "data-place": p.id, cx: px(p.lon), cy: py(p.lat), r: 4 + 14 * Math.sqrt(p.reports / max) });
    dot.append(svg("title", {}, `${p.name}: ${p.reports} reports`));
    dot.addEventListener("click", () => { setFilter("entity", p.id); location.hash = "#/search"; });
    map.append(dot);
  }
  box.append(map);
}

// ---- subscriptions ---------------------------------------------------------------------------

const alertStreams = new Map();
const streamsReady = new Set();

function markStream(id) {
  const row = document.querySelector(`#sub-table tr[data-sub-id="${CSS.escape(id)}"]`);
  if (row) row.dataset.stream = streamsReady.has(id) ? "ready" : "";
}

let subscriptionLoads = 0;

async function loadSubscriptions() {
  const load = ++subscriptionLoads;
  try {
    const data = await getJSON("/v1/subscriptions");
    // The page's first list can answer after the one that follows a create (it may be the one
    // that creates the store): an older answer must not overwrite a newer one.
    if (load !== subscriptionLoads) return;
    const body = $("#sub-table tbody");
    clear(body);
    for (const s of data.subscriptions) {
      const target = channelTarget(s.channel);
      body.append(el("tr", { "data-sub-id": s.id },
        el("td", {}, s.name), el("td", {}, s.query), el("td", {}, target), el("td", {}, s.mode === "digest" ? `digest ${s.digest_minutes} min` : s.mode),
        el("td", { class: "sub-state" + (s.failing ? " failing" : "") }, (s.active ? "active" : "paused") + (s.failing ? " · channel failing" : "")),
        el("td", {},
          el("button", { type: "button", onclick: () => subAction(s.id, s.active ? "pause" : "resume") }, s.active ? "Pause" : "Resume"),
          el("button", { type: "button", onclick: () => showDeliveries(s.id, s.name) }, "Log"),
          el("button", { type: "button", class: "sub-feed", onclick: () => subscriptionFeed(s.id, s.name) }, "Feed"),
          el("button", { type: "button", onclick: () => subAction(s.id, "delete") }, "Delete"))));
      if (s.active && s.channel.kind === "sse") followAlerts(s);
      markStream(s.id);
    }
  } catch (err) {
    if (load === subscriptionLoads) showError(err.message);
  }
}

function followAlerts(sub) {
  if (alertStreams.has(sub.id)) return;
  const source = new EventSource(`/v1/subscriptions/${encodeURIComponent(sub.id)}/stream`);
  source.addEventListener("ready", () => { streamsReady.add(sub.id); markStream(sub.id); });
  source.onerror = () => { streamsReady.delete(sub.id); markStream(sub.id); };
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    $("#alert-list").prepend(el("li", { class: "fresh alert", "data-alert-id": alert.alert_id },
      el("h4", {}, alert.headline || "(no headline)"),
      el("div", { class: "meta" }, ...changeBadges({ ...alert, report_id: alert.report_ids[0] }), `${sub.name} · ${alert.count} report(s) · `,
        el("a", { href: `#/story/${encodeURIComponent(alert.story_id)}` }, "story"))));
  });
  alertStreams.set(sub.id, source);
}

async function subAction(id, action) {
  try {
    if (action === "delete") await getJSON(`/v1/subscriptions/${encodeURIComponent(id)}`, { method: "DELETE" });
    else await getJSON(`/v1/subscriptions/${encodeURIComponent(id)}/${action}`, { method: "POST" });
    if (action !== "resume" && alertStreams.has(id)) {
      alertStreams.get(id).close();
      alertStreams.delete(id);
      streamsReady.delete(id);
    }
    showError("");
    loadSubscriptions();
  } catch (err) {
    showError(err.message);
  }
}

// A new Atom feed of a subscription: its URL carries the feed's token, shown once.
async function subscriptionFeed(id, name) {
  try {
    const feed = await postJSON("/v1/feeds", { target: "subscription", id });
    showError("");
    const link = $("#sub-feed-url");
    link.href = feed.url;
    link.textContent = feed.url;
    $("#sub-feed-for").textContent = name || id;
    $("#sub-feed-id").textContent = feed.feed_id;
    $("#sub-feed").hidden = false;
  } catch (err) {
    showError(err.message);
  }
}

function channelTarget(channel) {
  if (channel.kind === "email" && channel.email) {
    const when = channel.email.schedule === "daily" ? `daily ${channel.email.daily_at.slice(0, 5)} ${channel.email.timezone}` : channel.email.schedule;
    return `email ${channel.email.to.join(", ")} (${when})`;
  }
  if (channel.kind === "telegram" && channel.telegram) return `Telegram ${channel.telegram.chat_id}`;
  if (channel.url) return `${channel.kind} ${channel.url}`;
  return channel.kind;
}

// What a delivery log line means to a reader: sent and queued went out (or wait for the
// digest), retried is still being tried, failed and channel_failing need someone.
const OUTCOME_GROUP = { sent: "sent", queued: "sent", retried: "retrying", failed: "failed", channel_failing: "failed" };

async function showDeliveries(id, name) {
  $("#log-for").textContent = name;
  const list = $("#delivery-list");
  const counts = $("#delivery-counts");
  clear(list);
  counts.textContent = "";
  try {
    const data = await getJSON(`/v1/subscriptions/${encodeURIComponent(id)}/deliveries`);
    const groups = { sent: 0, retrying: 0, failed: 0 };
    for (const [outcome, n] of Object.entries(data.counts)) groups[OUTCOME_GROUP[outcome] || "sent"] += n;
    counts.textContent = `sent ${groups.sent} · retrying ${groups.retrying} · failed ${groups.failed}` + (data.failing ? " · this channel keeps failing" : "");
    counts.classList.toggle("failing", Boolean(data.failing));
    for (const d of data.deliveries) list.append(el("li", { class: `outcome-${OUTCOME_GROUP[d.outcome] || "sent"}` }, `${d.at} ${d.channel} ${d.outcome} attempt ${d.attempt}${d.status ? " status " + d.status : ""}${d.error ? " — " + d.error : ""}`));
    for (const s of data.stories) list.append(el("li", {}, `story ${s.story_id}: ${s.count} report(s), ${s.alerts} alert(s)`));
    if (!list.children.length) list.append(el("li", {}, "nothing delivered yet"));
  } catch (err) {
    showError(err.message);
  }
}

function showChannelFields() {
  const kind = $("#sub-channel").value;
  for (const label of document.querySelectorAll("#sub-form label[data-for]")) label.hidden = !label.dataset.for.split(" ").includes(kind);
}

async function createSubscription(event) {
  event.preventDefault();
  const channelKind = $("#sub-channel").value;
  const channel = { kind: channelKind };
  if (["webhook", "slack", "mattermost", "teams"].includes(channelKind)) channel.url = $("#sub-url").value.trim();
  if (channelKind === "email") {
    channel.email = {
      to: $("#sub-email").value.split(",").map((a) => a.trim()).filter(Boolean),
      schedule: $("#sub-schedule").value,
      daily_at: $("#sub-daily-at").value || "08:00",
      timezone: $("#sub-timezone").value.trim() || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    };
  }
  if (channelKind === "telegram") channel.telegram = { chat_id: $("#sub-chat").value.trim(), bot_token: $("#sub-token").value.trim() };
  const body = {
    name: $("#sub-name").value.trim(),
    query: $("#q").value.trim(),
    filters: filterObject(),
    channel,
    mode: $("#sub-mode").value,
    digest_minutes: Number($("#sub-digest").value || 60),
  };
  try {
    const created = await postJSON("/v1/subscriptions", body);
    showError("");
    const secret = $("#sub-secret");
    secret.hidden = channelKind !== "webhook";
    secret.textContent = channelKind === "webhook" ? `Webhook secret (shown once): ${created.channel.secret}` : "";
    $("#sub-name").value = "";
    await loadSubscriptions();
  } catch (err) {
    showError(err.message);
  }
}

// ---- routing -----------------------------------------------------------------------------------

function currentView() {
  const hash = location.hash || "#/live";
  const [, view, arg] = hash.match(/^#\/([a-z]+)\/?(.*)$/) || [null, "live", ""];
  return { view, arg: decodeURIComponent(arg || "") };
}

function refresh() {
  if (!me) { showLogin(); return; }
  const { view, arg } = currentView();
  if (view === "users" && me.role !== "admin") {
    location.hash = "#/live";  // nothing to show: the server answers 403 to anyone else
    return;
  }
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === view);
  if (view === "live") startLive();
  else if (view === "search") runSearch(false);
  else if (view === "story") showStory(arg);
  else if (view === "overview") showOverview();
  else if (view === "subscriptions") loadSubscriptions();
  else if (view === "report") showHistory(arg);
  else if (view === "sources") showSources();
  else if (view === "users") { $("#user-link").hidden = true; loadUsers(); }
  else if (view === "account") {
    $("#account-name").textContent = `${me.user} (${me.role})`;
    $("#pw-done").hidden = true;
    $("#token-new").hidden = true;
    loadTokens();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#filters").addEventListener("submit", (event) => { event.preventDefault(); refresh(); });
  $("#more").addEventListener("click", () => runSearch(true));
  $("#sub-form").addEventListener("submit", createSubscription);
  $("#export-format").addEventListener("change", updateExportLink);
  $("#save-form").addEventListener("submit", saveSearch);
  $("#export-link").addEventListener("click", updateExportLink); // the filters as typed now
  $("#sub-channel").addEventListener("change", showChannelFields);
  showChannelFields();
  window.addEventListener("hashchange", refresh);
  $("#login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    logIn({ username: $("#login-user").value.trim(), password: $("#login-password").value });
    $("#login-password").value = "";
  });
  $("#logout").addEventListener("click", logOut);
  $("#password-form").addEventListener("submit", setPassword);
  $("#token-form").addEventListener("submit", createToken);
  $("#user-form").addEventListener("submit", createUser);
  $("#status").textContent = "";
  // A one-time login link (#login=cwl_...): the fragment never reaches a server or a log.
  const link = (location.hash.match(/^#login=([A-Za-z0-9_-]+)$/) || [])[1];
  if (link) {
    history.replaceState(null, "", "#/account");
    logIn({ link });
    return;
  }
  getJSON("/v1/auth/me").then((user) => { showUser(user); refresh(); }).catch(() => showLogin());
});
