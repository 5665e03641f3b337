/**
 * DOM helpers. Elements are built from data with h(), never from HTML strings, so nothing a
 * charger, partner or token id holds can become markup.
 */

/** An element: h("a", { href: "#/fleet", class: "x", onclick: fn }, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttributes(el, attrs);
  add(el, children);
  return el;
}

/** An SVG element (the meter chart). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  setAttributes(el, attrs);
  add(el, children);
  return el;
}

function setAttributes(el, attrs) {
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "value" && "value" in el) {
      el.value = String(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

function add(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  add(el, children);
  return el;
}

let counter = 0;
/** A unique id, to tie a label to its control. */
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

/** A labelled control: the control gets an id, the label names it. */
export function field(label, control, { hint, wide } = {}) {
  if (!control.id) control.id = uid();
  const parts = [h("label", { for: control.id }, label)];
  if (hint) {
    // above the control: controls in a row line up whether they have a hint or not
    const hintId = uid("hint");
    control.setAttribute("aria-describedby", hintId);
    parts.push(h("span", { class: "hint", id: hintId }, hint));
  }
  parts.push(control);
  return h("div", { class: wide ? "field wide" : "field" }, parts);
}

/** A <select> of [value, label] pairs (or plain values). */
export function select(name, options, selected) {
  return h(
    "select",
    { name },
    options.map((option) => {
      const [value, label] = Array.isArray(option) ? option : [option, option];
      return h("option", { value, selected: String(value) === String(selected ?? "") }, label);
    }),
  );
}

/** A table in a scrolling wrapper (narrow screens scroll it, not the page). */
export function table(caption, headings, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows),
    ),
  );
}

// how values read -------------------------------------------------------------------------

/** A time as "12 s ago", its exact value on hover and for assistive technology. */
export function when(iso) {
  if (!iso) return h("span", { class: "muted" }, "—");
  const at = new Date(iso);
  return h("time", { datetime: iso, title: at.toLocaleString() }, ago(at, new Date()));
}

export function ago(at, now) {
  const seconds = Math.round((now.getTime() - at.getTime()) / 1000);
  if (seconds < -5) return at.toLocaleString();
  if (seconds < 60) return `${Math.max(seconds, 0)} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return at.toLocaleString();
}

/** A partner status as a badge: the word itself, coloured. */
export function badge(status, big = false) {
  const name = String(status ?? "UNKNOWN");
  return h("span", { class: `badge s-${name.toLowerCase()}${big ? " big" : ""}` }, name);
}

export function link(online) {
  return h("span", { class: online ? "link on" : "link" }, online ? "Online" : "Offline");
}

export function kwh(value) {
  return value === null || value === undefined ? "—" : `${Number(value).toFixed(2)} kWh`;
}

export function kw(watts) {
  return watts === null || watts === undefined ? "—" : `${(Number(watts) / 1000).toFixed(1)} kW`;
}

export function orDash(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

/** Say something to everyone, screen reader users included, for a few seconds. */
export function announce(message) {
  const toast = document.getElementById("toast");
  if (!toast) return;
  toast.textContent = message;
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => {
    toast.textContent = "";
  }, 6000);
}

/** An ISO time from a datetime-local input's value (local time), or undefined. */
export function isoFromLocal(value) {
  return value ? new Date(value).toISOString() : undefined;
}

/** An event handler that says what went wrong rather than failing unseen. */
export function safely(action) {
  return async (event) => {
    try {
      await action(event);
    } catch (error) {
      announce(`That did not work: ${error.message}`);
    }
  };
}
