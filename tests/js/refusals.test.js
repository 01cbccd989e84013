// The one rule for refusals (protocol/refusals.js, docs/protocol.md "Errors"):
// any error that carries retry_after means "wait, then send it again", whatever
// its code, including codes this client has never heard of.
import assert from "node:assert/strict";
import { test } from "node:test";

import { WAIT_CODE, retryAfter, shownCode } from "../../messaging/static/messaging/js/protocol/refusals.js";
import { RequestError } from "../../messaging/static/messaging/js/protocol/requests.js";

const CODES = ["rate_limited", "too_many_in_flight", "ping_rate_limited", "report_rate_limited", "fetch_rate_limited", "fetch_work_limited", "search_rate_limited", "profile_rate_limited", "a_code_from_a_newer_server"];

test("every refusal that carries retry_after is one to wait out, whatever its code", () => {
  for (const code of CODES) {
    const frame = { type: "error", code, detail: "wait", retry_after: 1.5, setting: "MESSAGING_WHATEVER" };
    assert.equal(retryAfter(frame), 1.5, code);
    assert.equal(retryAfter(new RequestError(code, "wait", frame)), 1.5, `${code} as a RequestError`);
    assert.equal(shownCode(frame), WAIT_CODE, code);
  }
});

test("an error without a usable retry_after is not one to wait out, even rate_limited", () => {
  for (const frame of [
    { type: "error", code: "rate_limited", detail: "slow" },
    { type: "error", code: "rate_limited", detail: "slow", retry_after: 0 },
    { type: "error", code: "rate_limited", detail: "slow", retry_after: "soon" },
    { type: "error", code: "too_large", detail: "long", limit: 4000 },
    null,
    "rate_limited",
  ]) assert.equal(retryAfter(frame), null, JSON.stringify(frame));
  assert.equal(shownCode({ type: "error", code: "too_large", detail: "long" }), "too_large");
  assert.equal(shownCode(new RequestError("timeout")), "timeout");
});
