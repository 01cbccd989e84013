// @ts-check
// The group dialogs: "New group" (a name, people picked with the user
// search) and the group's members (role, online, how far each has read; for
// owners and admins add and remove; rename and leave for everyone).
// Native modal <dialog>s: the rest of the page is inert while one is open
// (focus stays inside), Escape closes it, and focus goes back to the button
// that opened it.

import { avatar, find, h } from "./dom.js";
import { Chips, PeopleSearch } from "./people.js";
import { shownCode } from "./protocol/refusals.js";
import { presenceText, timeOfDay } from "./time.js";

/** @import { ChatState, Conversation } from "./protocol/client.js" */
/** @import { HeldMember } from "./protocol/members.js" */

/** @type {Record<string, string>} */
const ERROR_TEXT = {
  not_found: "Someone on the list does not exist (any more).",
  too_many_members: "That is more people than a group may have.",
  too_large: "That name is too long.",
  forbidden: "You are not allowed to do that in this group.",
  rate_limited: "Too many changes at once; try again in a moment.",
  invalid_frame: "The server refused that.",
  not_connected: "Not connected. Try again when the connection is back.",
  disconnected: "The connection dropped. Try again.",
  timeout: "The server did not answer. Try again.",
  server_error: "The server had a problem. Try again.",
};

/** @param {unknown} error what a request rejected with: a RequestError has a ``code`` and a ``detail`` */
function errorText(error) {
  const code = shownCode(error); // any refusal with retry_after reads as rate_limited
  const detail = typeof error === "object" && error !== null && "detail" in error ? error.detail : undefined;
  const base = (code === undefined ? undefined : ERROR_TEXT[code]) ?? "That did not work. Try again.";
  return code === "not_found" && detail ? `${base} (${detail})` : base;
}

class Dialog {
  /** @param {HTMLDialogElement} el the dialog's markup (app.html) */
  constructor(el) {
    this.el = el;
    this.error = find("[data-dialog-error]", HTMLElement, el);
    /** @type {HTMLElement | null} */
    this.opener = null;
    for (const button of el.querySelectorAll("[data-dialog-close]")) button.addEventListener("click", () => this.close());
    el.addEventListener("close", () => this.opener?.focus());
    // A click on the backdrop (the dialog element itself, outside its content) closes it.
    el.addEventListener("click", (event) => { if (event.target === el) this.close(); });
  }

  /** @param {EventTarget | null} [opener] what gets the focus back when the dialog closes */
  show(opener = document.activeElement) {
    this.opener = opener instanceof HTMLElement ? opener : null;
    this.showError("");
    if (!this.el.open) this.el.showModal();
  }

  close() {
    if (this.el.open) this.el.close();
  }

  /** @param {string} text */
  showError(text) {
    this.error.textContent = text;
    this.error.hidden = !text;
  }
}

/**
 * @param {HTMLElement} root
 * @param {{ exclude: () => Iterable<string> }} options
 */
function picker(root, { exclude }) {
  const chips = new Chips(find("[data-picker-chosen]", HTMLElement, root));
  const search = new PeopleSearch({
    input: find("[data-picker-input]", HTMLInputElement, root),
    results: find("[data-picker-results]", HTMLElement, root),
    status: find("[data-picker-status]", HTMLElement, root),
    onPick: (user) => chips.add(user.username),
    exclude: () => new Set([...exclude(), ...chips.names]),
  });
  return { chips, search };
}

export class NewGroupDialog extends Dialog {
  /**
   * ``create(title, members)`` resolves to the ``create_group`` ack; ``onCreated(id)`` opens the new group.
   * @param {HTMLDialogElement} el
   * @param {{
   *   state: ChatState,
   *   me: string,
   *   create: (title: string, members: string[]) => Promise<import("./protocol/frames.js").AckFrame>,
   *   onCreated: (id: number | undefined) => void,
   * }} options
   */
  constructor(el, { state, me, create, onCreated }) {
    super(el);
    this.state = state;
    this.create = create;
    this.onCreated = onCreated;
    this.form = find("[data-new-group-form]", HTMLFormElement, el);
    this.name = find("[data-new-group-name]", HTMLInputElement, el);
    this.submit = find("[data-new-group-submit]", HTMLButtonElement, el);
    this.picker = picker(find("[data-picker]", HTMLElement, el), { exclude: () => new Set([me]) });
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
  }

  /** @param {EventTarget | null} [opener] */
  open(opener) {
    this.form.reset();
    this.picker.chips.clear();
    this.picker.search.clear();
    this.show(opener);
    this.name.focus();
  }

  async save() {
    const title = this.name.value.trim();
    const members = [...this.picker.chips.names];
    if (!title) {
      this.showError("Give the group a name.");
      this.name.focus();
      return;
    }
    if (!members.length) {
      this.showError("Add at least one person.");
      this.picker.search.input.focus();
      return;
    }
    this.submit.disabled = true;
    this.showError("");
    try {
      const ack = await this.create(title, members);
      this.opener = null;
      this.close();
      this.onCreated(ack.conversation?.id ?? ack.event?.conversation);
    } catch (error) {
      this.showError(errorText(error));
    } finally {
      this.submit.disabled = false;
    }
  }
}

export class MembersDialog extends Dialog {
  /**
   * @param {HTMLDialogElement} el
   * @param {{ state: ChatState, onLeft: (id: number | null) => void }} options
   */
  constructor(el, { state, onLeft }) {
    super(el);
    this.state = state;
    this.onLeft = onLeft;
    /** @type {number | null} the group shown (its buttons act on it cast to a number: they are only seen while it is open) */
    this.id = null;
    this.title = find("#members-title", HTMLElement, el);
    this.count = find("[data-members-count]", HTMLElement, el);
    this.list = find("[data-member-list]", HTMLElement, el);
    this.renameForm = find("[data-rename-form]", HTMLFormElement, el);
    this.renameInput = find("[data-rename-input]", HTMLInputElement, el);
    this.addBox = find("[data-add-members]", HTMLElement, el);
    this.addButton = find("[data-add-members-submit]", HTMLElement, el);
    this.leaveButton = find("[data-leave]", HTMLElement, el);
    this.picker = picker(this.addBox, { exclude: () => new Set(this.state.get(this.id)?.members.list().map((/** @type {HeldMember} */ m) => m.username) ?? []) });
    this.renameForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const title = this.renameInput.value.trim();
      if (title) this.act(() => this.state.rename(/** @type {number} */ (this.id), title));
    });
    this.addButton.addEventListener("click", () => {
      const users = [...this.picker.chips.names];
      if (!users.length) {
        this.showError("Search for someone to add first.");
        return;
      }
      this.act(() => this.state.addMembers(/** @type {number} */ (this.id), users)).then((ok) => { if (ok) this.picker.chips.clear(); });
    });
    this.leaveButton.addEventListener("click", () => {
      this.act(() => this.state.leave(/** @type {number} */ (this.id))).then((ok) => {
        if (!ok) return;
        this.opener = null;
        this.close();
        this.onLeft(this.id);
      });
    });
    state.on("members", (/** @type {{ id: number }} */ { id }) => { if (id === this.id && this.el.open) this.render(); });
    state.on("conversation", (/** @type {{ id: number }} */ { id }) => { if (id === this.id && this.el.open) this.render(); });
  }

  /**
   * @param {number} id
   * @param {EventTarget | null} [opener]
   */
  open(id, opener) {
    this.id = id;
    this.picker.chips.clear();
    this.picker.search.clear();
    this.state.requestMembers(id, { force: true });
    this.render();
    this.renameInput.value = this.state.get(id)?.title ?? "";
    this.show(opener);
  }

  /**
   * Run a group change; its failure is shown in the dialog. Resolves to whether it went through.
   * @param {() => Promise<unknown>} fn
   */
  async act(fn) {
    this.showError("");
    try {
      await fn();
      return true;
    } catch (error) {
      this.showError(errorText(error));
      return false;
    }
  }

  render() {
    const state = this.state;
    const conv = state.get(this.id);
    if (!conv) return;
    this.title.textContent = conv.name;
    const members = conv.members.list().sort((/** @type {HeldMember} */ a, /** @type {HeldMember} */ b) => rank(a) - rank(b) || a.username.localeCompare(b.username));
    this.count.textContent = `${members.length} ${members.length === 1 ? "member" : "members"}`;
    this.list.replaceChildren(...members.map((/** @type {HeldMember} */ m) => this.row(conv, m)));
    this.addBox.hidden = !state.can(this.id, "add");
    this.renameForm.hidden = !state.can(this.id, "rename");
    this.leaveButton.hidden = !conv.isMember;
  }

  /**
   * @param {Conversation} conv
   * @param {HeldMember} m
   */
  row(conv, m) {
    const state = this.state;
    const me = m.username === state.me;
    const online = me ? true : m.online ?? state.presence.get(m.username)?.online ?? false;
    const lastSeen = m.last_seen ?? state.presence.get(m.username)?.last_seen ?? null;
    const person = state.identity(m.username);
    const shown = person.display_name || m.username;
    /** @param {MouseEvent} event */
    const openCard = (event) => document.dispatchEvent(new CustomEvent("linkup:profile", { detail: { username: m.username, opener: event.currentTarget } }));
    const li = h("li", { className: "member", dataset: { member: m.username, role: m.role } },
      avatar(shown, { online, small: true, image: person.avatar, key: m.username }),
      h("span", { className: "member-name" },
        h("button", {
          className: "person-link",
          attrs: { type: "button", "aria-haspopup": "dialog", title: `@${m.username}` },
          dataset: { profileOpen: m.username },
          text: me ? `${shown} (you)` : shown,
          on: { click: openCard },
        }),
        m.role !== "member" ? h("span", { className: "role", text: m.role === "owner" ? "Owner" : "Admin" }) : null),
      h("span", { className: "member-detail muted" }, me ? "" : `${presenceText(online, lastSeen)} · ${readPosition(conv, m)}`));
    const actions = h("span", { className: "member-actions" });
    if (state.can(this.id, "set_role", m.username) && m.role !== "owner") {
      const next = m.role === "admin" ? "member" : "admin";
      actions.append(h("button", {
        className: "link-button",
        attrs: { type: "button" },
        text: next === "admin" ? "Make admin" : "Remove admin",
        on: { click: () => this.act(() => state.setRole(/** @type {number} */ (this.id), m.username, next)) },
      }));
    }
    if (state.can(this.id, "remove", m.username)) {
      actions.append(h("button", {
        className: "link-button danger",
        attrs: { type: "button", "aria-label": `Remove ${m.username} from the group` },
        text: "Remove",
        on: { click: () => this.act(() => state.removeMember(/** @type {number} */ (this.id), m.username)) },
      }));
    }
    if (actions.childElementCount) li.append(actions);
    return li;
  }
}

/** @type {Record<string, number>} */
const RANKS = { owner: 0, admin: 1 };

/** @param {HeldMember} member */
function rank(member) {
  return RANKS[member.role] ?? 2;
}

/**
 * "read everything", "read up to 14:05", "nothing read yet".
 * @param {Conversation} conv
 * @param {HeldMember} member
 */
function readPosition(conv, member) {
  const end = conv.last_seq;
  const start = Math.max(member.joined_seq ?? 0, 0);
  if (member.read_seq >= end) return "has read everything";
  if (member.read_seq <= start) return "has not read anything yet";
  const event = conv.log.get(member.read_seq);
  return event ? `has read up to ${timeOfDay(event.created_at)}` : "has read some";
}
