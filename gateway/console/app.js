/**
 * The operator console: signs in, then shows one page at a time by the URL's hash
 * (#/fleet, #/chargers/CP-1, #/partners, …), so pages can be bookmarked and reloaded.
 */
import { ApiError, currentSession, signOut } from "./api.js";
import * as audit from "./audit-page.js";
import * as charger from "./charger-page.js";
import { announce, fill, h } from "./dom.js";
import * as fleet from "./fleet-page.js";
import * as partners from "./partners-page.js";
import * as signin from "./signin-page.js";
import * as system from "./system-page.js";
import * as tokens from "./tokens-page.js";

const ROUTES = [
  [/^\/fleet$/, "fleet", fleet.render],
  [/^\/chargers\/([^/]+)$/, "fleet", charger.render],
  [/^\/partners$/, "partners", partners.renderList],
  [/^\/partners\/([^/]+)$/, "partners", partners.renderOne],
  [/^\/tokens$/, "tokens", tokens.render],
  [/^\/audit$/, "audit", audit.render],
  [/^\/system$/, "system", system.render],
];

const main = document.getElementById("main");
const bar = document.getElementById("bar");
let cleanups = [];
let generation = 0;
let signedIn = false;

function parseHash() {
  const raw = window.location.hash.replace(/^#/, "") || "/fleet";
  const [path, search = ""] = raw.split("?", 2);
  return { path, query: new URLSearchParams(search) };
}

/** Go to `path` with `query` (empty values left out). */
export function navigate(path, query = {}) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  window.location.hash = `#${path}${text ? `?${text}` : ""}`;
}

function stopPage() {
  for (const cleanup of cleanups.splice(0)) cleanup();
  generation += 1;
}

async function show() {
  if (!signedIn) return;
  stopPage();
  const mine = generation;
  const { path, query } = parseHash();
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  for (const a of bar.querySelectorAll("nav a")) {
    if (route && a.dataset.section === route[1]) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  fill(main);
  if (!route) {
    fill(main, h("h1", { tabindex: "-1" }, "Not found"), h("p", {}, h("a", { href: "#/fleet" }, "To the fleet")));
    return;
  }
  const [pattern, , render] = route;
  const args = pattern.exec(path).slice(1).map(decodeURIComponent);
  const page = {
    main,
    query,
    path,
    /** Whether this page is still the one shown (async work checks before it draws). */
    current: () => mine === generation,
    onLeave: (cleanup) => cleanups.push(cleanup),
    navigate,
  };
  try {
    await render(page, ...args);
  } catch (error) {
    if (!page.current()) return;
    if (error instanceof ApiError && error.status === 401) return; // sign-in takes over
    main.append(
      h("p", { class: "error", role: "alert" }, `Could not show this page: ${error.message}`),
    );
  }
  if (page.current()) {
    const heading = main.querySelector("h1");
    heading?.setAttribute("tabindex", "-1");
    heading?.focus({ preventScroll: true });
  }
}

function showSignIn(message) {
  signedIn = false;
  stopPage();
  bar.hidden = true;
  signin.render(main, message, (session) => {
    enter(session);
    announce(`Signed in as ${session.actor}`);
  });
}

function enter(session) {
  signedIn = true;
  bar.hidden = false;
  document.getElementById("who").textContent = session.actor;
  show();
}

document.getElementById("sign-out").addEventListener("click", async () => {
  try {
    await signOut();
  } catch (error) {
    // the gateway did not end the session, so it stays usable: say so, and stay signed in
    announce(`Not signed out: ${error.message}. Try again.`);
    return;
  }
  showSignIn("You have signed out.");
});

window.addEventListener("hashchange", show);
window.addEventListener("console:session-ended", () => {
  if (signedIn) showSignIn("Your session has ended. Sign in again.");
});

async function boot() {
  try {
    const session = await currentSession();
    if (session) enter(session);
    else showSignIn();
  } catch (error) {
    fill(main, h("p", { class: "error", role: "alert" }, `The gateway did not answer: ${error.message}`));
  }
}

boot();
