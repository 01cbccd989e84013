// @ts-check
// People as they are shown: their display name (else username) and avatar,
// and the profile card a click on a person's avatar or name opens: an
// accessible modal <dialog> (focus moves in, Escape closes, focus returns to
// what opened it) with the avatar, display name, @username, status line and a
// "Message" button. Every text is set with textContent (dom.js's h()).

import { getJSON } from "./api.js";
import { avatar, h } from "./dom.js";
import { presenceText } from "./time.js";

/**
 * A person as the card shows them: ``P``, with presence and the link to message them when the server gave them.
 * @typedef {{ username: string, display_name?: string | null, avatar?: string | null, status?: string | null,
 *   online?: boolean, last_seen?: string | null, url?: string }} Person
 */

/**
 * The name a person is shown by: display name, else username.
 * @param {{ username?: string, display_name?: string | null } | null | undefined} person
 */
export function shownName(person) {
  return person?.display_name || person?.username || "";
}

const CLOSE_ICON = "m6.4 19-1.4-1.4 5.6-5.6L5 6.4 6.4 5l5.6 5.6L17.6 5 19 6.4 13.4 12l5.6 5.6-1.4 1.4-5.6-5.6z";

function closeIcon() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
  path.setAttribute("d", CLOSE_ICON);
  svg.append(path);
  return svg;
}

export class ProfileCard {
  /**
   * ``known(username)``: an identity the page already holds, shown at once while the card loads.
   * @param {{ known?: (username: string) => import("./protocol/frames.js").Profile | null | undefined }} [options]
   */
  constructor({ known = () => null } = {}) {
    this.known = known;
    /** @type {Person | null} */
    this.person = null;
    /** @type {HTMLElement | null} */
    this.opener = null;
    this.body = h("div", { className: "stack", dataset: { profileBody: "" } });
    this.el = h("dialog", { className: "dialog profile-card", attrs: { "aria-labelledby": "profile-card-name" }, dataset: { profileCard: "" } },
      h("div", { className: "dialog-head" },
        h("button", { className: "icon-button", attrs: { type: "button", "aria-label": "Close" }, dataset: { dialogClose: "" }, on: { click: () => this.close() } }, closeIcon())),
      this.body);
    this.el.addEventListener("close", () => this.opener?.focus());
    this.el.addEventListener("click", (event) => { if (event.target === this.el) this.close(); });
    document.body.append(this.el);
  }

  /**
   * Open the card of ``username``; what the page knows shows at once, the server's answer replaces it.
   * @param {string} username
   * @param {Element | null} [opener]
   */
  async open(username, opener = document.activeElement) {
    this.opener = opener instanceof HTMLElement ? opener : null;
    this.render(this.known(username) ?? { username, display_name: null, avatar: null, status: null }, { loading: true });
    if (!this.el.open) this.el.showModal();
    try {
      const { ok, body } = await getJSON(`/messages/api/people/${encodeURIComponent(username)}`);
      if (this.person?.username !== username) return;
      if (ok && body?.person) this.render(body.person);
      else this.renderMissing(username);
    } catch {
      if (this.person?.username === username) this.render(this.person, { offline: true });
    }
  }

  close() {
    if (this.el.open) this.el.close();
  }

  /**
   * A ``profile`` push: an open card of that person follows it.
   * @param {import("./protocol/frames.js").Profile} identity
   */
  update(identity) {
    if (this.el.open && this.person?.username === identity?.username) this.render({ ...this.person, ...identity });
  }

  /**
   * @param {Person} person
   * @param {{ loading?: boolean, offline?: boolean }} [options]
   */
  render(person, { loading = false, offline = false } = {}) {
    this.person = person;
    const name = shownName(person);
    const lines = [
      avatar(name, { image: person.avatar, key: person.username }),
      h("h2", { attrs: { id: "profile-card-name" }, dataset: { profileName: "" }, text: name }),
      h("p", { className: "muted profile-username", dataset: { profileUsername: "" }, text: `@${person.username}` }),
    ];
    if (person.status) lines.push(h("p", { className: "profile-status", dataset: { profileStatus: "" }, text: person.status }));
    if (typeof person.online === "boolean") lines.push(h("p", { className: "muted small", text: presenceText(person.online, person.last_seen) }));
    if (offline) lines.push(h("p", { className: "muted small", text: "Offline: this may not be their latest profile." }));
    if (person.url) {
      lines.push(h("div", { className: "dialog-actions profile-actions" },
        h("a", { className: "button", attrs: { href: person.url }, dataset: { profileMessage: "" }, text: "Message" })));
    }
    this.body.setAttribute("aria-busy", loading ? "true" : "false");
    this.body.replaceChildren(...lines);
  }

  /** @param {string} username */
  renderMissing(username) {
    this.person = { username };
    this.body.replaceChildren(
      h("h2", { attrs: { id: "profile-card-name" }, text: username }),
      h("p", { className: "muted", text: "This person is no longer on LinkUp." }));
  }
}
