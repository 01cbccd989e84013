import assert from "node:assert/strict";
import { test } from "node:test";

import { mentionsIn, parse, safeUrl } from "../../messaging/static/messaging/js/protocol/format.js";

test("bold, italic and code become tokens; markers inside words stay text", () => {
  assert.deepEqual(parse("a *big* _small_ `x<y`"), [
    { type: "text", text: "a " },
    { type: "bold", children: [{ type: "text", text: "big" }] },
    { type: "text", text: " " },
    { type: "italic", children: [{ type: "text", text: "small" }] },
    { type: "text", text: " " },
    { type: "code", text: "x<y" },
  ]);
  assert.deepEqual(parse("snake_case_name and 2*3*4"), [{ type: "text", text: "snake_case_name and 2*3*4" }]);
});

test("a code block keeps its text as it is, formatting and links included", () => {
  assert.deepEqual(parse("see:\n```js\nconst a = *b*; // https://x.org\n```"), [
    { type: "text", text: "see:\n" },
    { type: "codeblock", text: "const a = *b*; // https://x.org" },
  ]);
});

test("http and https links lose trailing punctuation; other schemes stay text", () => {
  assert.deepEqual(parse("go to https://example.org/a?b=1."), [
    { type: "text", text: "go to " },
    { type: "link", href: "https://example.org/a?b=1", text: "https://example.org/a?b=1" },
    { type: "text", text: "." },
  ]);
  for (const text of ["javascript:alert(1)", "data:text/html,<b>x</b>", "<a href=x>y</a>"]) {
    assert.ok(parse(text).every((t) => t.type === "text"), text);
  }
  assert.equal(safeUrl("javascript:alert(1)"), false);
  assert.equal(safeUrl("https://ok.example"), true);
});

test("only members' @usernames are mentions", () => {
  const members = new Set(["bob", "carol"]);
  assert.deepEqual(parse("hi @bob, @zed and mail@bob.org", { members }), [
    { type: "text", text: "hi " },
    { type: "mention", name: "bob", text: "@bob" },
    { type: "text", text: ", @zed and mail@bob.org" },
  ]);
  assert.deepEqual([...mentionsIn("@carol *@bob*", members)].sort(), ["bob", "carol"]);
});
