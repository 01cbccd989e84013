// The outbox: messages typed but not yet acknowledged, kept in localStorage so
// they survive reconnects and page reloads, and are resent with the same
// client_id (the server stores a client_id once, so a resend never duplicates).

function newClientId() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // crypto.randomUUID needs a secure context; plain http on a LAN address is not one.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor(key) {
    this.key = key;
    this.memory = null; // used when localStorage is unavailable
    this.entries = this.load();
  }

  load() {
    try {
      const parsed = JSON.parse(localStorage.getItem(this.key) || "[]");
      return Array.isArray(parsed) ? parsed.filter((e) => e && typeof e.client_id === "string" && typeof e.content === "string") : [];
    } catch {
      return [];
    }
  }

  save() {
    try {
      if (this.entries.length) localStorage.setItem(this.key, JSON.stringify(this.entries));
      else localStorage.removeItem(this.key);
    } catch {
      // Private mode or a full quota: the outbox still works for this page.
    }
  }

  all() {
    return [...this.entries];
  }

  pending() {
    return this.entries.filter((e) => e.state === "pending");
  }

  get(clientId) {
    return this.entries.find((e) => e.client_id === clientId);
  }

  add(content) {
    const entry = { client_id: newClientId(), content, created_at: new Date().toISOString(), state: "pending", error: null };
    this.entries.push(entry);
    this.save();
    return entry;
  }

  update(clientId, patch) {
    const entry = this.get(clientId);
    if (!entry) return null;
    Object.assign(entry, patch);
    this.save();
    return entry;
  }

  remove(clientId) {
    const before = this.entries.length;
    this.entries = this.entries.filter((e) => e.client_id !== clientId);
    if (this.entries.length !== before) this.save();
    return this.entries.length !== before;
  }
}
