// The console's only way to the gateway: the public REST API, with the admin key the user
// signed in with. The key lives in sessionStorage (gone with the tab) and only ever travels in
// the Authorization header, never in a URL.
const STORAGE_KEY = "kura.adminKey";

export const auth = {
  get: () => sessionStorage.getItem(STORAGE_KEY),
  set: (key) => sessionStorage.setItem(STORAGE_KEY, key),
  clear: () => sessionStorage.removeItem(STORAGE_KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    const info = (body && body.error) || {};
    super(info.message || `request failed (${status})`);
    this.status = status;
    this.code = info.code;
    this.details = info.details || [];
  }
}

/** Called when the key stops working (revoked, or never valid): back to the sign-in form. */
let onUnauthorized = () => {};
export function whenUnauthorized(callback) { onUnauthorized = callback; }

export async function api(method, path, body, query) {
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${auth.get() || ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
    throw new ApiError(response.status, data);
  }
  return data;
}

/** Every page of a paginated listing (the API caps a page at 100). */
export async function allPages(path, query) {
  const rows = [];
  for (let offset = 0; ; offset += 100) {
    const page = await api("GET", path, undefined, { ...query, limit: 100, offset });
    rows.push(...page.data);
    if (rows.length >= page.total || page.data.length === 0) return rows;
  }
}
