// @ts-check
// Messages with files (docs/protocol.md "Attachments"), with no DOM: a message
// waits in the outbox, in state "uploading", until each of its files is
// uploaded (POST …/attachments answers with the upload's id); then it becomes
// an ordinary pending entry whose frame names those ids, and goes out like any
// other message, resent with its client_id until the ack. An upload that is
// interrupted (network, server error) starts again after a pause; one that is
// refused (too large, not an image, quota) fails the message with that code,
// so the sender can fix it; nothing is ever sent with fewer files than chosen.
//
// The File objects live in this page's memory only (localStorage cannot hold
// them): after a reload, a message whose files had not finished uploading is
// marked failed ("upload_lost") for the sender to attach them again.

/** @import { ChatState } from "./client.js" */
/** @import { OutboxEntry, OutboxFile } from "./outbox.js" */
/** @import { Clock } from "./requests.js" */
/**
 * Uploads one file to a conversation: the promise resolves to the HTTP answer, rejects when the server could not be reached.
 * @typedef {(conversationId: number | null, file: File, options: { onProgress: (loaded: number) => void })
 *   => { promise: Promise<{ status: number, body: any }>, abort: () => void }} Transport
 */

export const UPLOAD_RETRY_MS = 1000; // doubled per failure in a row, up to 30 s
const UPLOAD_RETRY_MAX_MS = 30000;

/**
 * What a refusal's code tells the sender (the server's ``detail`` says more).
 * @type {Record<string, string>}
 */
export const UPLOAD_FAILURES = {
  too_large: "A file is over the size limit.",
  too_many_files: "Too many files for one message.",
  quota_exceeded: "Your uploads are over your storage quota.",
  unsupported_media_type: "A file is not the image its name says.",
  too_many_pixels: "An image has too many pixels.",
  invalid_file: "A file is empty or a damaged image.",
  upload_lost: "The page closed before the files were uploaded: attach them again.",
};

export class Uploads {
  /**
   * ``state``: the ChatState (its outbox, trySend and emit); ``transport(conversationId, file, {onProgress})``
   * returns ``{promise, abort}``, the promise resolving to ``{status, body}`` and rejecting when the server
   * could not be reached; ``clock``: setTimeout/clearTimeout (the tests' fake clock).
   * @param {{ state: ChatState, transport: Transport, clock: Pick<Clock, "setTimeout" | "clearTimeout"> }} options
   */
  constructor({ state, transport, clock }) {
    this.state = state;
    this.transport = transport;
    this.clock = clock;
    /** @type {Map<string, File[]>} client_id -> its files (this page's memory) */
    this.files = new Map();
    /** @type {Map<string, { abort: () => void }>} `${client_id}:${index}` -> its upload */
    this.running = new Map();
    for (const entry of state.outbox.all()) {
      if (entry.state === "uploading") state.outbox.update(entry.client_id, { state: "failed", error: "upload_lost" });
    }
  }

  /**
   * Queue a message with files to a conversation; its files upload at once.
   * @param {number | null} conversationId (null: the page has none yet, and the upload is refused)
   * @param {string} content
   * @param {File[]} files
   * @param {{ replyTo?: number | null }} [options]
   */
  send(conversationId, content, files, options = {}) {
    const entry = this.state.outbox.add({ conversation: conversationId }, content, options);
    /** @type {OutboxFile[]} */
    const described = files.map((f) => ({ name: f.name || "file", size: f.size, type: f.type || "", state: "waiting", loaded: 0, id: null, error: null }));
    this.state.outbox.update(entry.client_id, { state: "uploading", files: described, attachments: [] });
    this.files.set(entry.client_id, [...files]);
    this.changed(entry.client_id);
    this.start(entry.client_id);
    return this.state.outbox.get(entry.client_id);
  }

  /** @param {string} clientId */
  start(clientId) {
    const entry = this.state.outbox.get(clientId);
    const files = this.files.get(clientId);
    if (!entry?.files || !files) return;
    entry.files.forEach((described, index) => {
      const file = files[index];
      if (file && (described.state === "waiting" || described.state === "retrying")) this.uploadOne(clientId, index, file);
    });
    this.maybeSend(clientId);
  }

  /**
   * @param {string} clientId
   * @param {number} index
   * @param {File} file
   */
  uploadOne(clientId, index, file, failures = 0) {
    const entry = this.state.outbox.get(clientId);
    if (!entry) return;
    const key = `${clientId}:${index}`;
    this.patchFile(clientId, index, { state: "uploading", loaded: 0, error: null });
    const { promise, abort } = this.transport(entry.conversation, file, {
      onProgress: (loaded) => this.patchFile(clientId, index, { loaded }, false),
    });
    this.running.set(key, { abort });
    promise.then(
      ({ status, body }) => {
        this.running.delete(key);
        if (!this.state.outbox.get(clientId)) return;
        if (status === 201 && Array.isArray(body?.attachments) && body.attachments[0]) {
          this.patchFile(clientId, index, { state: "done", loaded: file.size, id: body.attachments[0].id });
          this.maybeSend(clientId);
        } else if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
          this.patchFile(clientId, index, { state: "failed", error: body?.code ?? "invalid_file" });
          this.state.outbox.update(clientId, { state: "failed", error: body?.code ?? "invalid_file" });
          this.changed(clientId);
        } else {
          this.retryLater(clientId, index, file, failures + 1);
        }
      },
      (error) => {
        this.running.delete(key);
        if (error?.name === "AbortError" || !this.state.outbox.get(clientId)) return;
        this.retryLater(clientId, index, file, failures + 1);
      },
    );
  }

  /**
   * @param {string} clientId
   * @param {number} index
   * @param {File} file
   * @param {number} failures
   */
  retryLater(clientId, index, file, failures) {
    this.patchFile(clientId, index, { state: "retrying", loaded: 0 });
    const delay = Math.min(UPLOAD_RETRY_MS * 2 ** (failures - 1), UPLOAD_RETRY_MAX_MS);
    this.clock.setTimeout(() => {
      const entry = this.state.outbox.get(clientId);
      if (entry && entry.files?.[index]?.state === "retrying") this.uploadOne(clientId, index, file, failures);
    }, delay);
  }

  /**
   * Every file uploaded: the message becomes an ordinary pending entry naming them, and goes out.
   * @param {string} clientId
   */
  maybeSend(clientId) {
    const entry = this.state.outbox.get(clientId);
    if (!entry || entry.state !== "uploading") return;
    const live = (entry.files ?? []).filter((f) => f.state !== "cancelled");
    if (live.some((f) => f.state !== "done")) return;
    if (!live.length && !entry.content.trim()) {
      this.state.discard(clientId);
      this.files.delete(clientId);
      return;
    }
    const updated = this.state.outbox.update(clientId, { state: "pending", attachments: live.flatMap((f) => (f.id === null ? [] : [f.id])) });
    this.files.delete(clientId);
    this.changed(clientId);
    this.state.trySend(/** @type {OutboxEntry} */ (updated)); // it was found above, so update() found it
  }

  /**
   * Cancel one file of a waiting message (its upload is aborted); the rest go on.
   * @param {string} clientId
   * @param {number} index
   */
  cancel(clientId, index) {
    const running = this.running.get(`${clientId}:${index}`);
    this.running.delete(`${clientId}:${index}`);
    running?.abort();
    this.patchFile(clientId, index, { state: "cancelled" });
    this.maybeSend(clientId);
  }

  /**
   * Retry a failed message with files: its failed uploads start again (the others are kept). True when
   * this handled it (the caller must not resend the entry as it is); false for the state's own retry.
   * @param {string} clientId
   */
  retry(clientId) {
    const entry = this.state.outbox.get(clientId);
    if (!entry?.files) return false; // a message without files: the state resends it
    if (entry.files.every((f) => f.state === "done" || f.state === "cancelled")) return false; // uploaded: resend it
    if (!this.files.has(clientId)) return true; // the files are gone (reload): never send it without them
    entry.files.forEach((f, i) => { if (f.state === "failed") this.patchFile(clientId, i, { state: "waiting", error: null }, false); });
    this.state.outbox.update(clientId, { state: "uploading", error: null });
    this.changed(clientId);
    this.start(clientId);
    return true;
  }

  /**
   * Abort everything of a message being deleted.
   * @param {string} clientId
   */
  forget(clientId) {
    for (const [key, running] of this.running) {
      if (key.startsWith(`${clientId}:`)) {
        running.abort();
        this.running.delete(key);
      }
    }
    this.files.delete(clientId);
  }

  /**
   * @param {string} clientId
   * @param {number} index
   * @param {Partial<OutboxFile>} patch
   */
  patchFile(clientId, index, patch, save = true) {
    const file = this.state.outbox.get(clientId)?.files?.[index];
    if (!file) return;
    Object.assign(file, patch);
    if (save) this.state.outbox.save();
    this.changed(clientId);
  }

  /** @param {string} clientId */
  changed(clientId) {
    const entry = this.state.outbox.get(clientId);
    if (entry) this.state.emit("outbox", { id: entry.conversation, entry });
  }
}
