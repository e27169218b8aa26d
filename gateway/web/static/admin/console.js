// The Kura console: sign in with an admin API key, then pages chosen by the URL's hash.
import { api, ApiError, auth, whenUnauthorized } from "./api.js";
import { assistantEdit, assistants } from "./assistants.js";
import { contactDetail, contacts, numbers } from "./directory.js";
import { field, h, replace } from "./dom.js";
import { keys } from "./keys.js";
import { live, overview, sessionDetail, sessions } from "./sessions.js";

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const signOut = document.getElementById("signout");

// [pattern, page]; a page may return a function that stops what it started (polling).
const ROUTES = [
  [/^$/, overview],
  [/^live$/, live],
  [/^sessions$/, sessions],
  [/^sessions\/([\w-]+)$/, sessionDetail],
  [/^assistants$/, assistants],
  [/^assistants\/(new|\d+)$/, assistantEdit],
  [/^keys$/, keys],
  [/^numbers$/, numbers],
  [/^contacts$/, contacts],
  [/^contacts\/(\d+)$/, contactDetail],
];

let stop = null;

function signIn(message) {
  nav.hidden = signOut.hidden = true;
  const key = h("input", { type: "password", name: "key", required: true, autocomplete: "off",
    placeholder: "kura_live_…", "aria-describedby": "signin-help" });
  const form = h("form", { class: "card signin", "aria-label": "Sign in" },
    h("h1", {}, "Sign in"),
    h("p", { id: "signin-help", class: "muted" }, "Use an admin API key. It is kept in this tab " +
      "only (session storage) and sent to the gateway with each request."),
    message ? h("p", { class: "error", role: "alert" }, message) : null,
    field("API key", key), h("p", {}, h("button", { type: "submit" }, "Sign in")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    auth.set(key.value.trim());
    try {
      await api("GET", "/api/v1/assistants");
    } catch (error) {
      auth.clear();
      return signIn(error instanceof ApiError && error.status === 403
        ? "This key lacks assistants:read; an admin key holds every permission."
        : error.message);
    }
    route();
  });
  replace(main, form);
  key.focus();
}

async function route() {
  if (stop) { stop(); stop = null; }
  if (!auth.get()) return signIn();
  nav.hidden = signOut.hidden = false;
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const params = new URLSearchParams(query || "");
  for (const link of nav.querySelectorAll("a")) {
    const target = link.getAttribute("href").slice(2);
    const current = target ? path === target || path.startsWith(`${target}/`) : path === "";
    if (current) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  const match = ROUTES.map(([pattern, page]) => [pattern.exec(path), page]).find(([m]) => m);
  if (!match) return replace(main, h("h1", {}, "Not found"), h("a", { href: "#/" }, "Overview"));
  const [groups, page] = match;
  const shown = location.hash;
  // Each navigation renders into a view of its own: a page still loading when the user moves
  // on (a slow list, then a click on one of its rows) finishes into a detached element instead
  // of overwriting the page that replaced it.
  const view = h("div", {});
  replace(main, view);
  try {
    const cleanup = await page(view, params, ...groups.slice(1));
    if (location.hash === shown) stop = cleanup || null;
    else if (cleanup) cleanup();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    replace(view, h("h1", {}, "Something went wrong"), h("p", { class: "error", role: "alert" },
      error.message));
  }
  main.focus({ preventScroll: true });
  return undefined;
}

whenUnauthorized(() => { auth.clear(); signIn("The key was refused (revoked or wrong)."); });
signOut.addEventListener("click", () => { auth.clear(); location.hash = "#/"; signIn(); });
window.addEventListener("hashchange", route);
route();
