// The inbox page: the live conversation list, and "start a conversation" by
// searching people by username (/messages/api/users?q=), keyboard friendly:
// ArrowDown moves into the results, Escape clears, Enter opens the first match.

import { getJSON } from "./api.js";
import { ConversationList } from "./conversations.js";
import { avatar, h } from "./dom.js";
import { presenceText } from "./time.js";

const conversations = new ConversationList(document.querySelector("[data-conversations]"), {
  empty: document.querySelector("[data-conversations-empty]"),
});
conversations.render(JSON.parse(document.getElementById("conversations-data").textContent));
conversations.live();

const form = document.querySelector("[data-people-search]");
const input = form.querySelector("input[name=q]");
const results = form.querySelector("[data-people-results]");
const status = form.querySelector("[data-people-status]");
let timer = null;
let controller = null;
let shown = [];

async function search(query) {
  controller?.abort();
  controller = new AbortController();
  const signal = controller.signal;
  try {
    const { ok, status: code, body } = await getJSON(`/messages/api/users?q=${encodeURIComponent(query)}`, { signal });
    if (!ok || !body) throw new Error(String(code));
    const { users } = body;
    if (signal.aborted || input.value.trim() !== query) return;
    show(query, users);
  } catch (error) {
    if (error.name === "AbortError" || signal.aborted) return;
    status.textContent = "Search is unavailable right now.";
  }
}

function show(query, users) {
  shown = users;
  results.hidden = false;
  if (!users.length) {
    results.replaceChildren(h("li", { className: "none", text: `No one called “${query}”.` }));
    status.textContent = `No one called ${query}.`;
    return;
  }
  results.replaceChildren(...users.map((user) => h("li", {},
    h("a", { attrs: { href: user.url }, dataset: { username: user.username } },
      avatar(user.username, { online: user.online, small: true }),
      h("span", { text: user.username }),
      h("span", { className: "muted", text: presenceText(user.online, user.last_seen) })))));
  status.textContent = `${users.length} ${users.length === 1 ? "person" : "people"} found. Use the down arrow to choose.`;
}

function clear() {
  controller?.abort();
  shown = [];
  results.hidden = true;
  results.replaceChildren();
  status.textContent = "";
}

input.addEventListener("input", () => {
  clearTimeout(timer);
  const query = input.value.trim();
  if (!query) {
    clear();
    return;
  }
  timer = setTimeout(() => search(query), 180);
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  const query = input.value.trim().toLowerCase();
  const pick = shown.find((u) => u.username.toLowerCase() === query) ?? shown[0];
  if (pick) location.assign(pick.url);
});

form.addEventListener("keydown", (event) => {
  const links = [...results.querySelectorAll("a")];
  const index = links.indexOf(document.activeElement);
  if (event.key === "ArrowDown" && links.length) {
    event.preventDefault();
    links[Math.min(index + 1, links.length - 1)].focus();
  } else if (event.key === "ArrowUp" && index >= 0) {
    event.preventDefault();
    if (index === 0) input.focus();
    else links[index - 1].focus();
  } else if (event.key === "Escape") {
    input.value = "";
    clear();
    input.focus();
  }
});
