// API keys: create (the secret shown once), change permissions and origins, revoke.
import { api } from "./api.js";
import { attempt, field, h, lines, replace, table } from "./dom.js";

const PERMISSIONS = ["sessions:create", "sessions:connect", "sessions:read", "sessions:write",
  "sessions:monitor", "recordings:read", "assistants:read", "assistants:write", "numbers:read", "numbers:write", "contacts:read",
  "contacts:write", "keys:read", "keys:write"];

function checkboxes(name, values, chosen) {
  return h("fieldset", { class: "wide" }, h("legend", {}, name),
    values.map(([value, label]) => h("label", { class: "check" },
      h("input", { type: "checkbox", name, value, checked: chosen.includes(value) }), label)));
}

function checked(form, name) {
  return [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((box) => box.value);
}

/** The form for a new key, or for changing ``key``; ``kind`` decides which fields it has. */
function keyForm(assistants, key, onSubmit) {
  const kind = h("select", { name: "kind", value: key ? key.kind : "secret", disabled: !!key },
    h("option", { value: "secret" }, "secret (kura_live_, for servers)"),
    h("option", { value: "publishable" }, "publishable (kura_pk_, for web pages)"));
  const name = h("input", { name: "name", required: true, maxlength: 100, value: key?.name ?? "" });
  const origins = h("textarea", { name: "allowed_origins", rows: 3,
    placeholder: "https://www.example.com", value: (key?.allowed_origins || []).join("\n") });
  const rate = h("input", { name: "rate_limit_per_minute", type: "number", min: 1,
    value: key?.rate_limit_per_minute ?? "" , placeholder: "default" });
  const scoped = h("div", { class: "wide grid" });
  const form = h("form", { class: "grid card", "aria-label": key ? "Change key" : "New key" },
    field("Name", name), field("Kind", kind), field("Requests per minute", rate),
    h("label", { class: "wide" }, "Allowed origins",
      h("small", {}, "one per line; the browser pages that may use this key"), origins),
    scoped, h("div", { class: "wide row" }, h("button", { type: "submit" }, key ? "Save" : "Create key")));
  const showScope = () => replace(scoped, kind.value === "publishable"
    ? [checkboxes("Assistants", assistants.map((a) => [String(a.id), a.name]),
        (key?.assistant_ids || []).map(String)),
      checkboxes("Session modes", [["chat", "chat"], ["voice", "voice"]], key?.session_modes || ["chat"])]
    : checkboxes("Permissions", PERMISSIONS.map((p) => [p, p]), key?.permissions || []));
  kind.addEventListener("change", showScope);
  showScope();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const body = { name: name.value.trim(), allowed_origins: lines(origins.value) };
    if (!key) body.kind = kind.value;
    if (rate.value) body.rate_limit_per_minute = Number(rate.value);
    if (kind.value === "publishable") {
      body.assistant_ids = checked(form, "Assistants").map(Number);
      body.session_modes = checked(form, "Session modes");
    } else body.permissions = checked(form, "Permissions");
    onSubmit(body);
  });
  return form;
}

export async function keys(main, params) {
  const [listing, assistants] = await Promise.all([
    api("GET", "/api/v1/admin/keys"), api("GET", "/api/v1/assistants")]);
  const shown = h("div", { "aria-live": "polite" });
  const editing = h("div", {});
  const reload = () => keys(main, params);
  const create = async (body) => {
    const created = await attempt(() => api("POST", "/api/v1/admin/keys", body), "Key created");
    if (!created) return;
    await reload();
    // The secret is in this answer only: show it once, with no way to see it again.
    replace(main.querySelector("[data-secret]"), h("div", { class: "secret", role: "alert" },
      h("strong", {}, `Copy the key "${created.name}" now: it will not be shown again.`),
      h("code", { "data-new-key": "" }, created.secret),
      h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(created.secret) },
        "Copy")));
  };
  const edit = (key) => {
    replace(editing, h("h2", {}, `Change ${key.name}`), keyForm(assistants.data, key, async (body) => {
      if (await attempt(() => api("PATCH", `/api/v1/admin/keys/${key.id}`, body), "Key changed")) reload();
    }));
    editing.scrollIntoView();
  };
  const revoke = async (key) => {
    if (!confirm(`Revoke "${key.name}"? Everything using it stops working at once.`)) return;
    if (await attempt(() => api("DELETE", `/api/v1/admin/keys/${key.id}`), "Key revoked") !== undefined) reload();
  };
  replace(main, h("h1", {}, "API keys"), h("div", { "data-secret": "" }), shown,
    table([
      ["ID", (k) => k.id],
      ["Name", (k) => k.name],
      ["Kind", (k) => k.kind],
      ["Starts with", (k) => h("code", {}, `${k.prefix}…`)],
      ["Grants", (k) => (k.kind === "publishable"
        ? `assistants ${k.assistant_ids.join(", ")} · ${k.session_modes.join(", ")}`
        : k.permissions.join(", "))],
      ["Origins", (k) => k.allowed_origins.join(", ") || "—"],
      ["Per minute", (k) => k.rate_limit_per_minute],
      ["Created", (k) => new Date(k.created_at).toLocaleDateString()],
      ["", (k) => (k.revoked_at ? "revoked" : [
        h("button", { type: "button", class: "quiet", onclick: () => edit(k) }, "Change"), " ",
        h("button", { type: "button", class: "danger", onclick: () => revoke(k) }, "Revoke")])],
    ], listing.data),
    editing,
    h("h2", {}, "New key"), keyForm(assistants.data, null, create));
}
