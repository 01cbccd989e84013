// @ts-check
// A message's text as DOM nodes, from protocol/format.js's tokens: strong,
// em, code, pre, links (http/https only, opened in a new tab without the
// opener or the referrer) and mentions. Every piece of text is a text node:
// never innerHTML.

import { h } from "./dom.js";
import { parse } from "./protocol/format.js";

/** @import { Token } from "./protocol/format.js" */

/**
 * @param {Token} token
 * @param {string | null} me
 * @returns {Node}
 */
function node(token, me) {
  switch (token.type) {
    case "bold":
      return h("strong", {}, token.children.map((t) => node(t, me)));
    case "italic":
      return h("em", {}, token.children.map((t) => node(t, me)));
    case "code":
      return h("code", { text: token.text });
    case "codeblock":
      return h("pre", {}, h("code", { text: token.text }));
    case "link":
      return h("a", { attrs: { href: token.href, target: "_blank", rel: "noopener noreferrer" }, text: token.text });
    case "mention":
      return h("span", { className: token.name === me ? "mention me" : "mention", text: token.text });
    default:
      return document.createTextNode(token.text);
  }
}

/**
 * The nodes of ``text``; ``members``: usernames whose @mentions are highlighted.
 * @param {string} text
 * @param {{ members?: Set<string> | null, me?: string | null }} [options]
 */
export function richText(text, { members = null, me = null } = {}) {
  return parse(text, { members }).map((token) => node(token, me));
}
