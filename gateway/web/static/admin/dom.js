// Small DOM helpers: elements from data, never from HTML strings, so nothing an API returns
// (names, transcripts) can inject markup.

export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false || name === "value") continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name in node && typeof value !== "string") node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  append(node, children);
  // After the children, so a <select> has its options and a <textarea> gets its text.
  if (attrs && attrs.value !== undefined && attrs.value !== null) node.value = attrs.value;
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A table; ``columns`` are [label, row => cell content]. */
export function table(columns, rows, empty = "Nothing yet.") {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h("table", {},
    h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", { scope: "col" }, label)))),
    h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([, cell]) => h("td", {}, cell(row)))))));
}

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

export function pill(text) { return h("span", { class: `pill ${text}` }, text); }

export function toast(message, bad = false) {
  const box = document.getElementById("toast");
  const item = h("div", { class: bad ? "bad" : "" }, message);
  box.append(item);
  setTimeout(() => item.remove(), bad ? 8000 : 4000);
}

/** Run an action from a button or form, showing the API's error message when it fails. */
export async function attempt(action, done) {
  try {
    const result = await action();
    if (done) toast(done);
    return result;
  } catch (error) {
    const details = (error.details || []).map((d) => `${d.field}: ${d.message}`).join("; ");
    toast(details ? `${error.message} (${details})` : error.message, true);
    return undefined;
  }
}

/** A labelled form control. */
export function field(label, control, hint) {
  return h("label", {}, label, hint ? h("small", {}, hint) : null, control);
}

/** Lines of a textarea, trimmed, without blanks. */
export function lines(text) {
  return text.split(/\r?\n/).map((line) => line.trim()).filter(Boolean);
}

/** An optional number input's value: null when empty. */
export function numberOrNull(input) {
  return input.value === "" ? null : Number(input.value);
}
