// @ts-check
// Doing things to a message, in the chat pane: the message menu (Reply,
// React, Edit, Copy, Delete for me, Delete for everyone), the emoji picker,
// reaction chips, the composer's reply and edit modes (↑ in an empty box
// edits your last message, Esc cancels), jumping to a reply's original, the
// edit history and "clear chat". The protocol state (protocol/client.js)
// does the talking; this only renders and asks.

import { announce, find, h } from "./dom.js";
import { EmojiPicker, MessageMenu } from "./message-menu.js";
import { MessageSelection } from "./message-selection.js";
import { preview } from "./protocol/messages.js";
import { shownCode } from "./protocol/refusals.js";
import { fullStamp } from "./time.js";

/** @import { ChatState } from "./protocol/client.js" */
/** @import { MessageList } from "./message-list.js" */
/** @import { Anchor, MenuItem } from "./message-menu.js" */
/** @typedef {{ kind: "reply", seq: number } | { kind: "edit", seq: number, draft: string }} ComposerMode */

/** @type {Record<string, string>} */
const REFUSED = {
  edit_window_closed: "This message can no longer be edited.",
  delete_window_closed: "This message can no longer be deleted for everyone. You can still delete it for yourself.",
  forbidden: "You can't do that to this message.",
  not_found: "That message is no longer there.",
  rate_limited: "You're doing that too fast. Try again in a moment.",
  too_many_reactions: "This message has as many different reactions as it can take.",
  not_connected: "You're offline: try again once you're connected.",
  disconnected: "The connection dropped: try again once you're connected.",
  timeout: "The server did not answer. Try again.",
};

export class MessageActions {
  /**
   * @param {{
   *   state: ChatState,
   *   list: MessageList,
   *   input: HTMLTextAreaElement,
   *   composer: HTMLElement,
   *   context: { bar: HTMLElement, label: HTMLElement, preview: HTMLElement, cancel: HTMLElement },
   *   menu: HTMLElement,
   *   picker: HTMLElement,
   *   confirm: HTMLDialogElement,
   *   edits: HTMLDialogElement,
   *   selection: { root: HTMLElement, count: HTMLElement, remove: HTMLButtonElement, cancel: HTMLElement },
   *   conversationId: () => number | null,
   * }} options ``conversationId()``: the conversation on screen, or null
   *
   * An action on a message runs with its conversation on screen, so the id it hands
   * ChatState is cast to a number; were it null, the frame would go out as before
   * and the server refuse it.
   */
  constructor({ state, list, input, composer, context, menu, picker, confirm, edits, selection, conversationId }) {
    this.state = state;
    this.list = list;
    this.input = input;
    this.composer = composer;
    this.context = context;
    this.menu = new MessageMenu(menu);
    this.picker = new EmojiPicker(picker);
    this.confirmDialog = confirm;
    this.editsDialog = edits;
    this.conversationId = conversationId;
    /** @type {ComposerMode | null} */
    this.mode = null;
    this.selection = new MessageSelection({ list: list.list, bar: selection, onDelete: (seqs) => this.deleteSeveralForMe(seqs) });
    context.cancel.addEventListener("click", () => {
      this.cancel();
      this.input.focus();
    });
    for (const button of edits.querySelectorAll("[data-dialog-close]")) button.addEventListener("click", () => edits.close());
  }

  get me() {
    return this.state.me;
  }

  /** @param {unknown} error what the request rejected with (a RequestError has a ``code``) */
  refused(error) {
    const code = shownCode(error); // any refusal with retry_after reads as rate_limited
    announce((code === undefined ? undefined : REFUSED[code]) ?? "That did not work. Try again.");
  }

  // --- the menu ------------------------------------------------------------------------

  /**
   * @param {number} seq
   * @param {Anchor} anchor
   */
  openMenu(seq, anchor) {
    const id = this.conversationId();
    const conv = this.state.get(id);
    const view = this.state.messageView(id, seq);
    if (!conv || !view || view.deleted) return;
    const member = conv.isMember;
    /** @type {MenuItem[]} */
    const items = [];
    if (member) {
      items.push({ label: "Reply", action: "reply", keepsFocus: true, run: () => this.startReply(seq) });
      items.push({ label: "React", action: "react", keepsFocus: true, run: () => this.openPicker(seq) });
      if (view.sender === this.me) items.push({ label: "Edit", action: "edit", keepsFocus: true, run: () => this.startEdit(seq) });
    }
    items.push({ label: "Copy text", action: "copy", run: () => this.copy(view.content) });
    items.push({ label: "Delete for me", action: "delete-for-me", keepsFocus: true, run: () => this.deleteForMe(seq) });
    items.push({ label: "Select", action: "select", run: () => this.selection.start(seq) });
    if (this.state.mayDeleteForEveryone(id, view)) {
      items.push({ label: "Delete for everyone", action: "delete-for-everyone", danger: true, keepsFocus: true, run: () => this.deleteForEveryone(seq) });
    }
    this.menu.open(anchor, items, `Message from ${view.sender === this.me ? "you" : view.sender}`);
  }

  /** @param {number} seq */
  bubbleOf(seq) {
    return this.list.items.get(seq)?.el.querySelector(".bubble") ?? this.list.list;
  }

  /** @param {number} seq */
  openPicker(seq) {
    const id = this.conversationId();
    this.picker.open(this.bubbleOf(seq), (emoji) => this.toggleReaction(seq, emoji, { id }));
  }

  /**
   * @param {number} seq
   * @param {string} emoji
   * @param {{ id?: number | null }} [options] the conversation (the one on screen when the picker opened)
   */
  toggleReaction(seq, emoji, { id = this.conversationId() } = {}) {
    this.state.toggleReaction(/** @type {number} */ (id), seq, emoji).catch((/** @type {unknown} */ error) => this.refused(error));
  }

  /** @param {string} text */
  copy(text) {
    const done = () => announce("Copied");
    if (navigator.clipboard?.writeText) navigator.clipboard.writeText(text).then(done, () => announce("Could not copy"));
    else announce("Could not copy");
  }

  /**
   * An in-page confirmation (no window.confirm): resolves true when confirmed.
   * @param {string} title
   * @param {string} text
   * @param {string} ok the confirming button's label
   * @returns {Promise<boolean>}
   */
  confirm(title, text, ok) {
    const dialog = this.confirmDialog;
    find("[data-confirm-title]", HTMLElement, dialog).textContent = title;
    find("[data-confirm-text]", HTMLElement, dialog).textContent = text;
    find("[data-confirm-ok]", HTMLElement, dialog).textContent = ok;
    const back = document.activeElement;
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        if (back instanceof HTMLElement && back.isConnected) back.focus();
        resolve(dialog.returnValue === "ok");
      }, { once: true });
    });
  }

  /** @param {number} seq */
  async deleteForMe(seq) {
    const id = this.conversationId();
    if (!(await this.confirm("Delete for me?", "The message goes from your devices only; the others still see it.", "Delete for me"))) return;
    this.state.deleteForMe(/** @type {number} */ (id), [seq]).then(() => announce("Deleted for you"), (/** @type {unknown} */ error) => this.refused(error));
  }

  /**
   * Several messages selected at once: resolves true once they are deleted for me.
   * @param {number[]} seqs
   * @returns {Promise<boolean>}
   */
  async deleteSeveralForMe(seqs) {
    const id = this.conversationId();
    const what = seqs.length === 1 ? "The message goes" : `${seqs.length} messages go`;
    if (!(await this.confirm(`Delete ${seqs.length === 1 ? "it" : seqs.length} for me?`, `${what} from your devices only; the others still see them.`, "Delete for me"))) return false;
    return this.state.deleteForMe(/** @type {number} */ (id), seqs).then(() => {
      announce(`Deleted ${seqs.length} for you`);
      return true;
    }, (/** @type {unknown} */ error) => {
      this.refused(error);
      return false;
    });
  }

  /** @param {number} seq */
  async deleteForEveryone(seq) {
    const id = this.conversationId();
    if (!(await this.confirm("Delete for everyone?", "Everyone will see “This message was deleted” instead.", "Delete for everyone"))) return;
    this.state.deleteForEveryone(/** @type {number} */ (id), seq).then(() => announce("Deleted for everyone"), (/** @type {unknown} */ error) => this.refused(error));
  }

  async clearChat() {
    const id = this.conversationId();
    if (id === null) return;
    if (!(await this.confirm("Clear this chat?", "Every message until now goes from your devices; new messages show as usual. The others keep theirs.", "Clear chat"))) return;
    this.state.clearChat(id).then(() => announce("Chat cleared"), (/** @type {unknown} */ error) => this.refused(error));
  }

  // --- replies and edits in the composer --------------------------------------------------

  /** @param {number} seq */
  startReply(seq) {
    const view = this.state.messageView(this.conversationId(), seq);
    if (!view) return;
    this.cancel();
    this.mode = { kind: "reply", seq };
    this.showContext(`Replying to ${view.sender === this.me ? "yourself" : view.sender}`, preview(view.content));
    this.input.focus();
  }

  /** @param {number} seq */
  startEdit(seq) {
    const view = this.state.messageView(this.conversationId(), seq);
    if (!view || view.sender !== this.me || view.deleted) return false;
    this.cancel();
    this.mode = { kind: "edit", seq, draft: this.input.value };
    this.input.value = view.content;
    this.input.dispatchEvent(new Event("input"));
    this.showContext("Editing your message", "Enter saves, Esc cancels");
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
    return true;
  }

  /**
   * @param {string} label
   * @param {string} text
   */
  showContext(label, text) {
    this.context.label.textContent = label;
    this.context.preview.textContent = text;
    this.context.bar.hidden = false;
    this.composer.classList.toggle("editing", this.mode?.kind === "edit");
  }

  /** Leave reply or edit mode (an edit gives back what was typed before), and any selection. */
  cancel() {
    this.selection.stop();
    if (this.mode?.kind === "edit") {
      this.input.value = this.mode.draft ?? "";
      this.input.dispatchEvent(new Event("input"));
    }
    this.mode = null;
    this.context.bar.hidden = true;
    this.composer.classList.remove("editing");
  }

  /**
   * The composer's keys: ↑ in an empty box edits my last message; Esc cancels. True when handled.
   * @param {KeyboardEvent} event
   */
  onKey(event) {
    if (event.key === "Escape" && this.mode) {
      event.preventDefault();
      this.cancel();
      return true;
    }
    if (event.key === "ArrowUp" && !this.input.value && !this.mode && !event.shiftKey && !event.altKey) {
      const conv = this.state.get(this.conversationId());
      const seq = conv?.isMember ? conv.messages.lastOf(this.me) : null;
      if (seq !== null && this.startEdit(seq)) {
        event.preventDefault();
        return true;
      }
    }
    return false;
  }

  /**
   * Options for a message being sent (a reply), or true when the composer was editing and saved instead.
   * @param {string} content
   * @returns {{ replyTo: number | null } | true}
   */
  takeSubmit(content) {
    const mode = this.mode;
    if (!mode) return { replyTo: null };
    if (mode.kind === "reply") {
      this.cancel();
      return { replyTo: mode.seq };
    }
    const id = this.conversationId();
    const view = this.state.messageView(id, mode.seq);
    this.mode = { ...mode, draft: "" };
    this.cancel();
    if (view && view.content !== content) {
      this.state.edit(/** @type {number} */ (id), mode.seq, content).then(() => announce("Message edited"), (/** @type {unknown} */ error) => this.refused(error));
    }
    return true;
  }

  // --- jumping, edit history, gaps ---------------------------------------------------------------

  /** @param {number} seq */
  jump(seq) {
    const id = this.conversationId();
    if (this.list.flash(seq)) return;
    this.state.jumpTo(id, seq).then((/** @type {boolean} */ held) => {
      this.list.update("keep");
      if (!held || !this.list.flash(seq)) announce("That message is not available.");
    }, (/** @type {unknown} */ error) => this.refused(error));
  }

  /** @param {number} seq */
  showEdits(seq) {
    const id = this.conversationId();
    this.state.editHistory(/** @type {number} */ (id), seq).then((answer) => {
      const list = find("[data-edit-versions]", HTMLElement, this.editsDialog);
      list.replaceChildren(...(answer.versions ?? []).map((v, i, all) => h("li", { className: "edit-version" },
        h("p", { className: "muted small" }, h("time", { attrs: { datetime: v.written_at }, text: fullStamp(v.written_at) }), i === all.length - 1 ? " (now)" : ""),
        h("p", { className: "edit-text", text: v.content }))));
      this.editsDialog.showModal();
    }, (/** @type {unknown} */ error) => this.refused(error));
  }
}
