// Overview, live sessions and the session history, with transcripts and turn latencies.
import { api, ApiError } from "./api.js";
import { attempt, field, h, pill, replace, table, when } from "./dom.js";

const LIVE_REFRESH_MS = 1500; // a live list and transcript that feel live, at ~1 request/s
const SETTLE_MS = 5000;

function shortId(id) { return id.slice(0, 8); }

function startOfToday() {
  const day = new Date();
  day.setHours(0, 0, 0, 0);
  return day.toISOString();
}

async function count(query) {
  const page = await api("GET", "/api/v1/sessions", undefined, { ...query, limit: 1 });
  return page.total;
}

/** Prometheus text → { name: [{labels, value}] } for the few series the overview shows. */
function parseMetrics(text) {
  const series = {};
  for (const line of text.split("\n")) {
    const match = /^([a-z_]+)(?:\{([^}]*)\})? ([0-9.eE+-]+|NaN|\+Inf)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...(match[2] || "").matchAll(/(\w+)="([^"]*)"/g)]
      .map((m) => [m[1], m[2]]));
    (series[match[1]] ||= []).push({ labels, value: Number(match[3]) });
  }
  return series;
}

/** A quantile from cumulative histogram buckets, interpolated as Prometheus does. */
function quantile(buckets, q) {
  const byBound = new Map();
  for (const { labels, value } of buckets) {
    const bound = labels.le === "+Inf" ? Infinity : Number(labels.le);
    byBound.set(bound, (byBound.get(bound) || 0) + value);
  }
  const sorted = [...byBound.entries()].sort((a, b) => a[0] - b[0]);
  const total = sorted.length ? sorted[sorted.length - 1][1] : 0;
  if (!total) return null;
  const rank = q * total;
  let lower = 0, below = 0;
  for (const [bound, cumulative] of sorted) {
    if (cumulative >= rank) {
      if (bound === Infinity) return lower;
      return lower + (bound - lower) * ((rank - below) / Math.max(cumulative - below, 1e-9));
    }
    lower = bound; below = cumulative;
  }
  return lower;
}

async function metricsSummary() {
  // /metrics has its own access rule (loopback, or KURA_METRICS_TOKEN); no admin key is sent.
  const response = await fetch("/metrics").catch(() => null);
  if (!response || !response.ok) return null;
  const series = parseMetrics(await response.text());
  const sum = (name) => (series[name] || []).reduce((total, s) => total + s.value, 0);
  const latency = series.kura_turn_latency_seconds_bucket || [];
  const ms = (value) => (value === null ? "—" : `${Math.round(value * 1000)} ms`);
  return {
    p50: ms(quantile(latency, 0.5)),
    p99: ms(quantile(latency, 0.99)),
    errors: sum("kura_provider_errors_total"),
  };
}

function stat(value, label) { return h("div", { class: "stat" }, h("b", {}, value), h("span", {}, label)); }

export async function overview(main) {
  const today = startOfToday();
  const [ready, live, liveCalls, sessionsToday, callsToday, metrics] = await Promise.all([
    fetch("/api/v1/health/ready").then((r) => r.json()).catch(() => ({ status: "unreachable" })),
    count({ status: "active" }),
    count({ status: "active", channel: "phone" }),
    count({ created_after: today }),
    count({ created_after: today, channel: "phone" }),
    metricsSummary(),
  ]);
  replace(main,
    h("h1", {}, "Overview"),
    h("div", { class: "stats" },
      stat(ready.status, "gateway readiness"),
      stat(live, "live sessions"),
      stat(liveCalls, "live calls"),
      stat(sessionsToday, "sessions today"),
      stat(callsToday, "calls today"),
      metrics ? [stat(metrics.p50, "reply latency p50"), stat(metrics.p99, "reply latency p99"),
        stat(metrics.errors, "provider errors (since start)")] : null),
    metrics ? null : h("p", { class: "muted" }, "Latency and error figures come from /metrics, " +
      "which this gateway serves to loopback clients or with KURA_METRICS_TOKEN."));
}

function sessionRows(rows, link) {
  return table([
    ["Session", (s) => h("a", { href: link(s) }, shortId(s.session_id))],
    ["Status", (s) => pill(s.status)],
    ["Channel", (s) => `${s.channel} · ${s.mode}`],
    ["Assistant", (s) => s.assistant.name],
    ["Phone", (s) => s.phone_number || "—"],
    ["Created", (s) => when(s.created_at)],
    ["Turns", (s) => s.total_turns],
    ["End reason", (s) => s.end_reason || "—"],
  ], rows, "No sessions match.");
}

export async function live(main) {
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  replace(main, h("h1", {}, "Live sessions"), list);
  const refresh = async () => {
    const page = await api("GET", "/api/v1/sessions", undefined, { status: "active", limit: 100 });
    replace(list, h("p", { class: "muted" }, `${page.total} live, updated ${new Date().toLocaleTimeString()}`),
      sessionRows(page.data, (s) => `#/sessions/${s.session_id}`));
  };
  await refresh();
  const timer = setInterval(() => refresh().catch(() => {}), LIVE_REFRESH_MS);
  return () => clearInterval(timer);
}

function filterForm(params, assistants) {
  const select = (name, options) => h("select", { name, value: params.get(name) || "" },
    h("option", { value: "" }, "any"), options.map(([value, label]) => h("option", { value }, label)));
  const date = (name) => h("input", { type: "date", name, value: params.get(name) || "" });
  const form = h("form", { class: "row", "aria-label": "Filter sessions" },
    field("Status", select("status", ["pending", "active", "ended", "expired"].map((s) => [s, s]))),
    field("Channel", select("channel", [["api", "app (api)"], ["phone", "phone"]])),
    field("Assistant", select("assistant_id", assistants.map((a) => [String(a.id), a.name]))),
    field("From", date("from")), field("To", date("to")),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const [name, value] of new FormData(form)) if (value) query.set(name, value);
    location.hash = `#/sessions?${query}`;
  });
  return form;
}

export async function sessions(main, params) {
  const offset = Number(params.get("offset") || 0);
  const day = (value, plusDays) => {
    if (!value) return undefined;
    const date = new Date(`${value}T00:00:00`);
    date.setDate(date.getDate() + plusDays);
    return date.toISOString();
  };
  const [assistants, page] = await Promise.all([
    api("GET", "/api/v1/assistants"),
    api("GET", "/api/v1/sessions", undefined, {
      status: params.get("status"), channel: params.get("channel"),
      assistant_id: params.get("assistant_id"), created_after: day(params.get("from"), 0),
      created_before: day(params.get("to"), 1), limit: 50, offset,
    }),
  ]);
  const more = new URLSearchParams(params);
  more.set("offset", String(offset + 50));
  replace(main, h("h1", {}, "Sessions and calls"), filterForm(params, assistants.data),
    h("p", { class: "muted" }, `${page.total} sessions`),
    sessionRows(page.data, (s) => `#/sessions/${s.session_id}`),
    offset + 50 < page.total ? h("p", {}, h("a", { href: `#/sessions?${more}` }, "Older sessions →")) : null);
}

/** Turns with, for each assistant turn, the time from the end of the turn before it. */
function transcriptTable(turns) {
  let previousEnd = null;
  const rows = turns.map((turn) => {
    const latency = turn.role === "assistant" && previousEnd
      ? Math.max(0, new Date(turn.started_at) - previousEnd) : null;
    if (turn.role === "user") previousEnd = new Date(turn.ended_at);
    return { ...turn, latency };
  });
  return table([
    ["#", (t) => t.seq],
    ["Who", (t) => t.role],
    ["Said", (t) => h("span", { class: "text" }, t.text, t.interrupted ? " (interrupted)" : "")],
    ["At", (t) => when(t.started_at)],
    ["Reply latency", (t) => (t.latency === null ? "" : `${t.latency} ms`)],
  ], rows, "No turns yet.");
}

export async function sessionDetail(main, params, id) {
  const facts = h("div", {});
  const transcript = h("div", { "aria-live": "polite" });
  replace(main, h("p", {}, h("a", { href: "#/sessions" }, "← Sessions")),
    h("h1", {}, `Session ${shortId(id)}`), facts, h("h2", {}, "Transcript"), transcript);
  const refresh = async () => {
    const [session, turns] = await Promise.all([
      api("GET", `/api/v1/sessions/${id}`),
      api("GET", `/api/v1/sessions/${id}/transcript`),
    ]);
    const end = h("button", { type: "button", class: "danger", onclick: () =>
      attempt(() => api("DELETE", `/api/v1/sessions/${id}`), "Session ended") }, "End session");
    replace(facts, h("dl", { class: "facts card" },
      h("dt", {}, "Status"), h("dd", {}, pill(session.status), " ",
        session.status === "active" ? end : null),
      h("dt", {}, "Assistant"), h("dd", {}, h("a", { href: `#/assistants/${session.assistant.id}` },
        session.assistant.name)),
      h("dt", {}, "Channel"), h("dd", {}, `${session.channel} · ${session.mode}`),
      h("dt", {}, "Phone"), h("dd", {}, session.contact_id
        ? h("a", { href: `#/contacts/${session.contact_id}` }, session.phone_number)
        : session.phone_number || "—"),
      h("dt", {}, "Created"), h("dd", {}, when(session.created_at)),
      h("dt", {}, "Connected"), h("dd", {}, when(session.connected_at)),
      h("dt", {}, "Ended"), h("dd", {}, when(session.ended_at)),
      h("dt", {}, "End reason"), h("dd", {}, session.end_reason || "—"),
      h("dt", {}, "Turns"), h("dd", {}, session.total_turns)));
    replace(transcript, transcriptTable(turns.turns));
    return session;
  };
  // A live session's transcript grows as turns finish; turns are written a moment after they
  // end, so a session that has just ended is read again for a few seconds too.
  const settling = (session) => ["active", "pending"].includes(session.status) ||
    (session.ended_at && Date.now() - new Date(session.ended_at) < SETTLE_MS);
  if (!settling(await refresh())) return undefined;
  const timer = setInterval(() => refresh().then((session) => {
    if (!settling(session)) clearInterval(timer);
  }).catch((error) => { if (!(error instanceof ApiError)) clearInterval(timer); }),
  LIVE_REFRESH_MS);
  return () => clearInterval(timer);
}
