// @ts-check
// DOM helpers. Every piece of user data reaches the page through textContent or
// an attribute set here, never through innerHTML; icons are built as SVG nodes.

const SVG = "http://www.w3.org/2000/svg";

/**
 * @typedef {{
 *   className?: string,
 *   dataset?: Record<string, string | number | boolean | null | undefined>,
 *   attrs?: Record<string, string | number | boolean | null | undefined>,
 *   text?: string | number,
 *   on?: { [type: string]: (event: any) => void },
 *   hidden?: boolean,
 * }} Props
 */
/** @typedef {Node | string | number | null | undefined | false} Child */

/**
 * h("li", {className: "x", dataset: {id: 1}, attrs: {"aria-label": "…"}, text: "…", on: {click}}, ...children)
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  const { className, dataset, attrs, text, on, hidden } = props;
  if (className) el.className = className;
  if (dataset) for (const [k, v] of Object.entries(dataset)) el.dataset[k] = String(v);
  if (attrs) for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, v === true ? "" : String(v));
  if (text !== undefined) el.textContent = String(text);
  if (on) for (const [k, v] of Object.entries(on)) el.addEventListener(k, v);
  if (hidden) el.hidden = true;
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** @typedef {{ viewBox: string, className: string, circle?: boolean, paths: string[] }} IconSpec */

/** @type {Record<string, IconSpec>} */
const ICONS = {
  // one check, two checks, a clock
  sent: { viewBox: "0 0 16 12", className: "tick", paths: ["M2 6.5 5.5 10 12.5 2"] },
  delivered: { viewBox: "0 0 16 12", className: "tick", paths: ["M1 6.5 4.5 10 11.5 2", "M7.5 9 8.5 10 15.5 2"] },
  read: { viewBox: "0 0 16 12", className: "tick", paths: ["M1 6.5 4.5 10 11.5 2", "M7.5 9 8.5 10 15.5 2"] },
  pending: { viewBox: "0 0 12 12", className: "tick pending", circle: true, paths: ["M6 3.2V6l2 1.3"] },
  // a bell struck through: the conversation is muted
  muted: { viewBox: "0 0 24 24", className: "muted-icon", paths: ["M12 22a2 2 0 0 0 2-2h-4a2 2 0 0 0 2 2Zm6-6V11c0-3.1-1.6-5.6-4.5-6.3V4a1.5 1.5 0 0 0-3 0v.7c-.5.1-1 .3-1.4.5L18 16Zm-13.7-13L3 4.3l3.3 3.3C6.1 8.7 6 9.8 6 11v5l-2 2v1h14.7l2 2 1.3-1.3Z"] },
  // a push pin: the conversation is pinned to the top of the list
  pinned: { viewBox: "0 0 24 24", className: "pinned-icon", paths: ["M9 3h6l-1 6 3 3v2h-4v6l-1 1-1-1v-6H7v-2l3-3Z"] },
};

/**
 * An inline SVG icon ("sent", "delivered", "read", "pending"), hidden from screen readers.
 * @param {string} name
 */
export function icon(name) {
  const spec = ICONS[name];
  if (!spec) throw new Error(`no icon called ${name}`);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", spec.viewBox);
  svg.setAttribute("class", spec.className);
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  if (spec.circle) {
    const c = document.createElementNS(SVG, "circle");
    c.setAttribute("cx", "6"); c.setAttribute("cy", "6"); c.setAttribute("r", "4.8");
    svg.append(c);
  }
  for (const d of spec.paths) {
    const p = document.createElementNS(SVG, "path");
    p.setAttribute("d", d);
    svg.append(p);
  }
  return svg;
}

// Hues far enough apart to tell people apart at a glance.
const HUES = [215, 265, 330, 20, 40, 150, 185, 295];

/** A stable pastel hue per username (FNV-1a), so a person keeps their colour everywhere. */
/** @param {string} name */
function avatarHue(name) {
  let hash = 2166136261;
  for (const ch of name) {
    hash ^= ch.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 16777619) >>> 0;
  }
  return HUES[hash % HUES.length];
}

/**
 * A person's (or group's) avatar: their uploaded picture when ``image`` is a URL, else the
 * first letter of ``name`` on the hue of ``key`` (the username: a person keeps their colour
 * when they change their display name, and matches the letter PNG of /avatars/<username>.png).
 * @param {string} name
 * @param {{ online?: boolean, small?: boolean, group?: boolean, image?: string | null, key?: string }} [options]
 */
export function avatar(name, { online = false, small = false, group = false, image = null, key = name } = {}) {
  const el = h("span", { className: `avatar${small ? " small" : ""}${group ? " group" : ""}`, attrs: { "aria-hidden": "true" } },
    [...name][0]?.toUpperCase() ?? "?");
  el.style.setProperty("--hue", String(avatarHue(key)));
  if (image) el.append(h("img", { className: "avatar-img", attrs: { src: image, alt: "", loading: "lazy", decoding: "async" } }));
  el.append(h("span", { className: online ? "dot online" : "dot" }));
  return el;
}

/**
 * Put ``image`` (a URL, or null for the letter) into an existing avatar element.
 * @param {Element} el
 * @param {string | null | undefined} image
 */
export function setAvatarImage(el, image) {
  let img = el.querySelector(".avatar-img");
  if (!image) {
    img?.remove();
    return;
  }
  if (!img) {
    img = h("img", { className: "avatar-img", attrs: { alt: "", decoding: "async" } });
    el.insertBefore(img, el.querySelector(".dot"));
  }
  if (img.getAttribute("src") !== image) img.setAttribute("src", image);
}

/**
 * The colour of one avatar element, from a username.
 * @param {HTMLElement} el
 * @param {string} key
 */
export function paintAvatar(el, key) {
  el.style.setProperty("--hue", String(avatarHue(key)));
}

/**
 * Colour the server-rendered avatars (``data-avatar="name"``) under ``root``.
 * @param {ParentNode} [root]
 */
export function paintAvatars(root = document) {
  for (const el of root.querySelectorAll("[data-avatar]")) {
    if (el instanceof HTMLElement) el.style.setProperty("--hue", String(avatarHue(el.dataset.avatar ?? "")));
  }
}

/**
 * Say something to screen-reader users through the page's polite live region.
 * @param {string} message
 */
export function announce(message) {
  const region = document.getElementById("announcer");
  if (!region) return;
  region.textContent = "";
  // A new text node in a later task is what makes screen readers speak again.
  setTimeout(() => { region.textContent = message; }, 50);
}

/**
 * The element ``selector`` finds under ``root``, checked to be a ``type`` (an HTMLElement unless
 * named): a page module's own markup, so a miss is a template out of step with the code, said
 * here by its selector rather than as a TypeError on null further on.
 * @template {Element} [T=HTMLElement]
 * @param {string} selector
 * @param {{ new (...args: any[]): T }} [type]
 * @param {ParentNode} [root]
 * @returns {T}
 */
export function find(selector, type, root = document) {
  const el = root.querySelector(selector);
  const expected = type ?? HTMLElement;
  if (!(el instanceof expected)) throw new Error(`LinkUp: ${selector} is ${el ? `not a ${expected.name}` : "missing"} on this page`);
  return /** @type {T} */ (el);
}

/**
 * The HTML element an event happened in or under that matches ``selector`` (``closest``), or null.
 * @param {Event} event
 * @param {string} selector
 * @returns {HTMLElement | null}
 */
export function closest(event, selector) {
  const found = event.target instanceof Element ? event.target.closest(selector) : null;
  return found instanceof HTMLElement ? found : null;
}
