// @ts-check
// What a message's text looks like: *bold*, _italic_, `code`, ``` code
// blocks ```, http(s) links and @mentions of members, as a tree of tokens.
// No DOM and no HTML: the page builds nodes from the tokens (textContent,
// createElement), so nothing a user typed is ever parsed as markup. Links
// are http and https only; anything else stays text.

const URL = /\bhttps?:\/\/[^\s<>"]+/gi;
const TRAILING = /[.,!?;:'")\]]+$/;
const MENTION = /(^|[^\w@.+-])@([\w.@+-]*[\w@+-])/g;

/**
 * @typedef {{ type: "text" | "code" | "codeblock", text: string }
 *   | { type: "bold" | "italic", children: Token[] }
 *   | { type: "link", href: string, text: string }
 *   | { type: "mention", name: string, text: string }} Token
 */
/** @typedef {Set<string> | null | undefined} Members usernames whose @mentions count */

/**
 * Tokens of a message: [{type: "text"|"bold"|"italic"|"code"|"codeblock"|"link"|"mention", ...}].
 * @param {string} text
 * @param {{ members?: Set<string> | null }} [options] usernames whose @mentions count
 * @returns {Token[]}
 */
export function parse(text, { members = null } = {}) {
  /** @type {Token[]} */
  const tokens = [];
  const source = String(text ?? "");
  let rest = 0;
  const fence = /```(?:[^\n`]*\n)?([\s\S]*?)```/g;
  for (let m = fence.exec(source); m; m = fence.exec(source)) {
    if (m.index > rest) tokens.push(...inline(source.slice(rest, m.index), members));
    tokens.push({ type: "codeblock", text: (m[1] ?? "").replace(/\n$/, "") });
    rest = m.index + m[0].length;
  }
  if (rest < source.length) tokens.push(...inline(source.slice(rest), members));
  return tokens;
}

/**
 * @param {string} text
 * @param {Members} members
 * @returns {Token[]}
 */
function inline(text, members) {
  /** @type {Token[]} */
  const out = [];
  let rest = 0;
  const code = /`([^`\n]+)`/g;
  for (let m = code.exec(text); m; m = code.exec(text)) {
    if (m.index > rest) out.push(...emphasis(text.slice(rest, m.index), members));
    out.push({ type: "code", text: m[1] ?? "" });
    rest = m.index + m[0].length;
  }
  if (rest < text.length) out.push(...emphasis(text.slice(rest), members));
  return out;
}

// *bold* and _italic_: the marker starts a word and ends one, with no space inside its edges.
const EMPHASIS = /(^|[\s([{"'])([*_])(?=\S)([^\n]*?\S)\2(?=$|[\s.,!?;:)\]}"'])/g;

/**
 * @param {string} text
 * @param {Members} members
 * @returns {Token[]}
 */
function emphasis(text, members) {
  /** @type {Token[]} */
  const out = [];
  let rest = 0;
  for (let m = EMPHASIS.exec(text); m; m = EMPHASIS.exec(text)) {
    const [whole, lead = "", marker, inner = ""] = m;
    const start = m.index + lead.length;
    if (start > rest) out.push(...links(text.slice(rest, start), members));
    out.push({ type: marker === "*" ? "bold" : "italic", children: links(inner, members) });
    rest = m.index + whole.length;
  }
  if (rest < text.length) out.push(...links(text.slice(rest), members));
  return out;
}

/**
 * @param {string} text
 * @param {Members} members
 * @returns {Token[]}
 */
function links(text, members) {
  /** @type {Token[]} */
  const out = [];
  let rest = 0;
  URL.lastIndex = 0;
  for (let m = URL.exec(text); m; m = URL.exec(text)) {
    const trail = m[0].match(TRAILING)?.[0] ?? "";
    const href = m[0].slice(0, m[0].length - trail.length);
    if (m.index > rest) out.push(...mentions(text.slice(rest, m.index), members));
    if (safeUrl(href)) out.push({ type: "link", href, text: href });
    else out.push({ type: "text", text: href });
    rest = m.index + href.length;
    URL.lastIndex = rest;
  }
  if (rest < text.length) out.push(...mentions(text.slice(rest), members));
  return out;
}

/**
 * @param {string} text
 * @param {Members} members
 * @returns {Token[]}
 */
function mentions(text, members) {
  if (!members || !text.includes("@")) return text ? [{ type: "text", text }] : [];
  /** @type {Token[]} */
  const out = [];
  let rest = 0;
  MENTION.lastIndex = 0;
  for (let m = MENTION.exec(text); m; m = MENTION.exec(text)) {
    const [, lead = "", name = ""] = m;
    const at = m.index + lead.length;
    if (!members.has(name)) continue;
    if (at > rest) out.push({ type: "text", text: text.slice(rest, at) });
    out.push({ type: "mention", name, text: `@${name}` });
    rest = at + 1 + name.length;
  }
  if (rest < text.length) out.push({ type: "text", text: text.slice(rest) });
  return out;
}

/**
 * Only absolute http(s) URLs become links (never javascript:, data: or anything else).
 * @param {string} href
 */
export function safeUrl(href) {
  try {
    const url = new globalThis.URL(href);
    return url.protocol === "http:" || url.protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * The members ``text`` mentions (usernames).
 * @param {string} text
 * @param {Members} members
 */
export function mentionsIn(text, members) {
  /** @type {Set<string>} */
  const found = new Set();
  /** @param {Token[]} tokens */
  const walk = (tokens) => {
    for (const t of tokens) {
      if (t.type === "mention") found.add(t.name);
      if ("children" in t) walk(t.children);
    }
  };
  walk(parse(text, { members }));
  return found;
}
