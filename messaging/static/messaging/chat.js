// Minimal chat client; the full browser app replaces it.
const card = document.querySelector(".chat");
const peer = card.dataset.peer;
const list = document.getElementById("messages");
const seen = new Map();
let lastSeq = 0;
const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new WebSocket(`${scheme}://${location.host}/ws/chat/${encodeURIComponent(peer)}/`);

function show(m) {
  let li = seen.get(m.id);
  if (!li) { li = document.createElement("li"); seen.set(m.id, li); list.append(li); }
  li.textContent = `${m.sender}: ${m.content} (${m.status})`;
  lastSeq = Math.max(lastSeq, m.seq);
}
socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "sync", after: lastSeq })));
socket.addEventListener("message", (event) => {
  const frame = JSON.parse(event.data);
  if (frame.type === "message" || frame.type === "ack") show(frame.message);
  if (frame.type === "sync") frame.messages.forEach(show);
});
document.getElementById("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("content");
  socket.send(JSON.stringify({ type: "message", content: input.value, client_id: crypto.randomUUID() }));
  input.value = "";
});
