/**
 * The admin API, as the console calls it: the documented endpoints under /api/v1/admin, with
 * the session cookie (sent by the browser, unreadable to this script) and, for every change,
 * the session's CSRF token.
 */

export const ADMIN = "/api/v1/admin";
const SAFE = new Set(["GET", "HEAD"]);

let csrfToken = null;

/** The CSRF token of the session (from sign-in, or GET /session after a reload). */
export function setCsrfToken(token) {
  csrfToken = token;
}

/** An answer other than 2xx: its status and the standard error body. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.message ?? `the gateway answered ${status}`);
    this.status = status;
    this.body = body ?? {};
  }
}

function url(path, query) {
  const target = new URL(ADMIN + path, window.location.origin);
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") {
      target.searchParams.set(name, String(value));
    }
  }
  return target;
}

/** Call an admin endpoint; the JSON answer, or an ApiError. */
export async function call(method, path, { query, body, headers } = {}) {
  const sent = { Accept: "application/json", ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  if (!SAFE.has(method) && csrfToken) sent["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { message: "the gateway cannot be reached" });
  }
  const json = (response.headers.get("Content-Type") ?? "").includes("json");
  const data = json ? await response.json() : null;
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    if (response.status === 401 && !sent.Authorization) {
      // the session ended (signed out elsewhere, expired, a new admin token)
      window.dispatchEvent(new CustomEvent("console:session-ended", { detail: error.message }));
    }
    throw error;
  }
  return data;
}

export const get = (path, query) => call("GET", path, { query });
export const post = (path, body = {}, query) => call("POST", path, { body, query });
export const patch = (path, body) => call("PATCH", path, { body });
export const del = (path) => call("DELETE", path);

/** A path segment: ids may hold characters a URL gives meaning to. */
export const seg = (id) => encodeURIComponent(id);

/** Sign in: the admin token, sent this once, for the session cookie. */
export async function signIn(token, actor) {
  const session = await call("POST", "/session", {
    body: actor ? { actor } : {},
    headers: { Authorization: `Bearer ${token}` },
  });
  setCsrfToken(session.csrfToken);
  return session;
}

/** The session of the cookie, or null when there is none. */
export async function currentSession() {
  try {
    const session = await call("GET", "/session");
    setCsrfToken(session.csrfToken);
    return session;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 404)) return null;
    throw error;
  }
}

export async function signOut() {
  try {
    await call("DELETE", "/session");
  } catch (error) {
    // a session already over is signed out; any other failure leaves it valid, and raises
    if (!(error instanceof ApiError && error.status === 401)) throw error;
  }
  setCsrfToken(null);
}

/**
 * Follow the live feed (GET /admin/events) for some chargers: handlers by event type get each
 * event's data. EventSource reconnects by itself with Last-Event-ID. Returns a function that
 * stops following.
 */
export function follow(chargerIds, handlers) {
  const query = { types: Object.keys(handlers).join(",") };
  if (chargerIds) query.chargerIds = chargerIds.join(",");
  const source = new EventSource(url("/events", query));
  for (const [type, handle] of Object.entries(handlers)) {
    source.addEventListener(type, (event) => handle(JSON.parse(event.data)));
  }
  source.addEventListener("error", () => {
    // EventSource gives up on an answer other than 200: if the session ended, this read says
    // so (its 401 signs the page out); otherwise the page simply stops being live
    if (source.readyState === EventSource.CLOSED) call("GET", "/session").catch(() => undefined);
  });
  return () => source.close();
}
