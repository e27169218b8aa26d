// Phone numbers (which assistant answers which number) and contacts (the callers).
import { allPages, api } from "./api.js";
import { attempt, field, h, replace, table, when } from "./dom.js";

function assistantSelect(assistants, value) {
  return h("select", { name: "assistant_id", value: value ? String(value) : "" },
    assistants.map((a) => h("option", { value: String(a.id) }, `${a.id} · ${a.name}`)));
}

export async function numbers(main, params) {
  const [rows, assistants] = await Promise.all([
    allPages("/api/v1/admin/numbers"), api("GET", "/api/v1/assistants")]);
  const reload = () => numbers(main, params);
  const patch = (n, body, done) => attempt(() => api("PATCH", `/api/v1/admin/numbers/${n.id}`, body), done)
    .then((ok) => ok && reload());
  const number = h("input", { name: "number", required: true, placeholder: "+15550002222" });
  const label = h("input", { name: "label", maxlength: 200 });
  const assistant = assistantSelect(assistants.data);
  const carrier = h("select", { name: "carrier" },
    ...["twilio", "telnyx", "plivo", "signalwire"].map((c) => h("option", { value: c }, c)));
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: true });
  const form = h("form", { class: "grid card", "aria-label": "Assign a number" },
    field("Number", number, "E.164"), field("Assistant", assistant), field("Carrier", carrier),
    field("Label", label), h("label", { class: "check" }, enabled, "Answer calls"),
    h("div", { class: "wide row" }, h("button", { type: "submit" }, "Assign")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { number: number.value.trim(), assistant_id: Number(assistant.value),
      carrier: carrier.value, enabled: enabled.checked, label: label.value.trim() || null };
    if (await attempt(() => api("POST", "/api/v1/admin/numbers", body), "Number assigned")) reload();
  });
  replace(main, h("h1", {}, "Phone numbers"),
    table([
      ["Number", (n) => n.number],
      ["Carrier", (n) => n.carrier],
      ["Assistant", (n) => {
        const select = assistantSelect(assistants.data, n.assistant.id);
        select.setAttribute("aria-label", `Assistant for ${n.number}`);
        select.addEventListener("change", () =>
          patch(n, { assistant_id: Number(select.value) }, "Assistant changed"));
        return select;
      }],
      ["Label", (n) => n.label || "—"],
      ["State", (n) => (n.enabled ? "answering" : "disabled")],
      ["", (n) => [
        h("button", { type: "button", class: "quiet", onclick: () =>
          patch(n, { enabled: !n.enabled }, n.enabled ? "Disabled" : "Enabled") },
        n.enabled ? "Disable" : "Enable"), " ",
        h("button", { type: "button", class: "danger", onclick: async () => {
          if (!confirm(`Unassign ${n.number}? Calls to it will hear a short message.`)) return;
          const done = await attempt(() => api("DELETE", `/api/v1/admin/numbers/${n.id}`), "Unassigned");
          if (done !== undefined) reload();
        } }, "Unassign")]],
    ], rows, "No numbers assigned yet."),
    h("h2", {}, "Assign a number"), form);
}

export async function contacts(main, params) {
  const q = (params.get("q") || "").trim();
  // A query that starts like a phone number is a number; anything else searches names.
  const byNumber = /^[+\d(][\d\s().-]*$/.test(q);
  const page = await api("GET", "/api/v1/admin/contacts", undefined,
    { limit: 100, phone_number: byNumber ? q : undefined, name: byNumber ? undefined : q });
  const search = h("input", { type: "search", name: "q", value: q, placeholder: "+1555… or a name" });
  const form = h("form", { class: "row", role: "search" }, field("Search", search),
    h("button", { type: "submit" }, "Search"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = `#/contacts?${new URLSearchParams({ q: search.value.trim() })}`;
  });
  replace(main, h("h1", {}, "Contacts"), form, h("p", { class: "muted" }, `${page.total} contacts`),
    table([
      ["Number", (c) => h("a", { href: `#/contacts/${c.id}` }, c.phone_number)],
      ["Name", (c) => c.name || "—"],
      ["Sessions", (c) => c.session_count],
      ["First seen", (c) => when(c.first_seen_at)],
      ["Last seen", (c) => when(c.last_seen_at)],
    ], page.data, "No contacts match."));
}

export async function contactDetail(main, params, id) {
  const contact = await api("GET", `/api/v1/admin/contacts/${id}`);
  const name = h("input", { name: "name", value: contact.name ?? "", maxlength: 200 });
  const form = h("form", { class: "row card", "aria-label": "Contact name" },
    field("Name the assistant is told", name), h("button", { type: "submit" }, "Save"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { name: name.value.trim() || null };
    if (await attempt(() => api("PATCH", `/api/v1/admin/contacts/${id}`, body), "Saved")) {
      contactDetail(main, params, id);
    }
  });
  replace(main, h("p", {}, h("a", { href: "#/contacts" }, "← Contacts")),
    h("h1", {}, `${contact.phone_number}${contact.name ? ` · ${contact.name}` : ""}`), form,
    h("h2", {}, `Sessions (${contact.session_count})`),
    table([
      ["Session", (s) => h("a", { href: `#/sessions/${s.session_id}` }, s.session_id.slice(0, 8))],
      ["Channel", (s) => s.channel],
      ["Assistant", (s) => s.assistant.name],
      ["Created", (s) => when(s.created_at)],
      ["End reason", (s) => s.end_reason || "—"],
    ], contact.sessions, "No sessions."));
}
