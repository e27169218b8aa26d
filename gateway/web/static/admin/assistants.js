// Assistants: list, create, edit every field, delete.
import { api } from "./api.js";
import { attempt, field, h, numberOrNull, replace, table } from "./dom.js";

const PROVIDERS = ["local", "openai", "gemini"];

export async function assistants(main) {
  const list = await api("GET", "/api/v1/assistants");
  replace(main, h("h1", {}, "Assistants"),
    h("p", {}, h("a", { href: "#/assistants/new" }, "+ New assistant")),
    table([
      ["ID", (a) => a.id],
      ["Name", (a) => h("a", { href: `#/assistants/${a.id}` }, a.name)],
      ["Provider", (a) => a.provider + (a.model ? ` · ${a.model}` : "")],
      ["Voice", (a) => a.voice || "—"],
      ["Language", (a) => a.language_code],
      ["Tools", (a) => a.tools.length],
    ], list.data));
}

function inputs(a) {
  const td = a.turn_detection || {};
  const text = (name, value, extra) => h("input", { name, value: value ?? "", ...extra });
  const num = (name, value, extra) => h("input", { name, type: "number", value: value ?? "", ...extra });
  return {
    name: text("name", a.name, { required: true, maxlength: 200 }),
    provider: h("select", { name: "provider", value: a.provider || "local" },
      PROVIDERS.map((p) => h("option", { value: p }, p))),
    model: text("model", a.model),
    voice: text("voice", a.voice),
    language_code: text("language_code", a.language_code || "en-US", { required: true }),
    greeting: h("textarea", { name: "greeting", value: a.greeting ?? "" }),
    instructions: h("textarea", { name: "instructions", value: a.instructions ?? "" }),
    temperature: num("temperature", a.temperature, { step: "0.1", min: 0, max: 2 }),
    idle_timeout_s: num("idle_timeout_s", a.idle_timeout_s ?? 120, { min: 5, max: 3600 }),
    max_turns: num("max_turns", a.max_turns, { min: 1 }),
    max_duration_s: num("max_duration_s", a.max_duration_s, { min: 10 }),
    transfer_number: text("transfer_number", a.transfer_number, { placeholder: "+15550001234" }),
    server_vad: h("input", { type: "checkbox", name: "server_vad", checked: td.server_vad ?? true }),
    threshold: num("threshold", td.threshold ?? 0.5, { step: "0.05", min: 0, max: 1 }),
    silence_ms: num("silence_ms", td.silence_ms ?? 500, { min: 100, max: 5000 }),
    prefix_padding_ms: num("prefix_padding_ms", td.prefix_padding_ms ?? 300, { min: 0, max: 2000 }),
    tools: h("textarea", { name: "tools", class: "code", rows: 8,
      value: JSON.stringify(a.tools || [], null, 2) }),
  };
}

function body(i) {
  let tools;
  try { tools = JSON.parse(i.tools.value || "[]"); } catch (error) {
    throw Object.assign(new Error("Tools must be a JSON list of tool definitions"), { details: [] });
  }
  const orNull = (input) => input.value.trim() || null;
  return {
    name: i.name.value.trim(), provider: i.provider.value, model: orNull(i.model),
    voice: orNull(i.voice), language_code: i.language_code.value.trim(),
    greeting: orNull(i.greeting), instructions: i.instructions.value,
    temperature: numberOrNull(i.temperature), idle_timeout_s: Number(i.idle_timeout_s.value),
    max_turns: numberOrNull(i.max_turns), max_duration_s: numberOrNull(i.max_duration_s),
    transfer_number: orNull(i.transfer_number), tools,
    turn_detection: { server_vad: i.server_vad.checked, threshold: Number(i.threshold.value),
      silence_ms: Number(i.silence_ms.value), prefix_padding_ms: Number(i.prefix_padding_ms.value) },
  };
}

export async function assistantEdit(main, params, id) {
  const creating = id === "new";
  const current = creating ? {} : await api("GET", `/api/v1/assistants/${id}`);
  const i = inputs(current);
  const form = h("form", { class: "grid card", "aria-label": "Assistant" },
    field("Name", i.name), field("Provider", i.provider),
    field("Model", i.model, "the provider's default when empty"), field("Voice", i.voice),
    field("Language", i.language_code, "BCP-47, e.g. en-US"),
    field("Temperature", i.temperature), field("Idle timeout (s)", i.idle_timeout_s),
    field("Max turns", i.max_turns), field("Max duration (s)", i.max_duration_s),
    field("Transfer number", i.transfer_number),
    h("label", { class: "wide" }, "Greeting", i.greeting),
    h("label", { class: "wide" }, "Instructions", i.instructions),
    h("fieldset", { class: "wide" }, h("legend", {}, "Turn detection"),
      h("label", { class: "check" }, i.server_vad, "Provider detects turns (server VAD)"),
      field("Threshold", i.threshold), field("Silence (ms)", i.silence_ms),
      field("Prefix padding (ms)", i.prefix_padding_ms)),
    h("label", { class: "wide" }, "Tools", h("small", {},
      'JSON: [{"name", "description", "parameters", "webhook_url"}]'), i.tools),
    h("div", { class: "wide row" }, h("button", { type: "submit" }, creating ? "Create" : "Save"),
      creating ? null : h("button", { type: "button", class: "danger", onclick: remove }, "Delete")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const saved = await attempt(() => (creating
      ? api("POST", "/api/v1/assistants", body(i))
      : api("PATCH", `/api/v1/assistants/${id}`, body(i))), creating ? "Assistant created" : "Saved");
    if (saved && creating) location.hash = `#/assistants/${saved.id}`;
  });
  async function remove() {
    if (!confirm(`Delete assistant "${current.name}"? Its sessions stay in the history.`)) return;
    const done = await attempt(() => api("DELETE", `/api/v1/assistants/${id}`), "Assistant deleted");
    if (done !== undefined) location.hash = "#/assistants";
  }
  replace(main, h("p", {}, h("a", { href: "#/assistants" }, "← Assistants")),
    h("h1", {}, creating ? "New assistant" : `Assistant ${current.id}: ${current.name}`), form);
}
