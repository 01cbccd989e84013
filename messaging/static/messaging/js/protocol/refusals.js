// @ts-check
// The one rule for refusals (docs/protocol.md "Errors"): an error that carries
// `retry_after` means "wait that long, then send the same thing again",
// whatever its code. Each server limit has a code of its own (`rate_limited`,
// `too_many_in_flight`, `fetch_work_limited`, ...), and a newer server may add
// more; a client that does not know a code but sees `retry_after` still waits
// and retries. Everything in the browser that decides "retry later" asks here.

/** The code the pages show for any refusal to wait out (their text: "too fast, try again in a moment"). */
export const WAIT_CODE = "rate_limited";

/**
 * Seconds the server asked to wait before trying again, or null when ``error``
 * is not a refusal to wait out (no usable ``retry_after``: some other error).
 *
 * @param {unknown} error an error frame, an HTTP API error body, or a RequestError (its ``frame``)
 * @returns {number | null}
 */
export function retryAfter(error) {
  if (typeof error !== "object" || error === null) return null;
  const frame = "frame" in error && !("retry_after" in error) ? error.frame : error;
  if (typeof frame !== "object" || frame === null || !("retry_after" in frame)) return null;
  const seconds = frame.retry_after;
  return typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0 ? seconds : null;
}

/**
 * The code a page shows ``error`` as: any refusal to wait out as ``WAIT_CODE``, others as their own.
 *
 * @param {unknown} error
 * @returns {string | undefined}
 */
export function shownCode(error) {
  if (retryAfter(error) !== null) return WAIT_CODE;
  const code = typeof error === "object" && error !== null && "code" in error ? error.code : undefined;
  return typeof code === "string" ? code : undefined;
}
