// @ts-check
// The settings page's "Profile" section: display name and status line (saved
// as JSON), the avatar (uploaded as multipart, checked and squared by the
// server) and its removal. The server tells every open tab of whoever shares
// a conversation with the user (a `profile` frame); this page shows the
// answer it got. Refusals are said in words, next to the form.

import { csrfToken, postJSON } from "./api.js";
import { find, paintAvatars, setAvatarImage } from "./dom.js";

/** @import { Profile } from "./protocol/frames.js" */

const config = JSON.parse(find("#profile-config").textContent ?? "");
const form = find("[data-profile-form]", HTMLFormElement);
const nameInput = find("[data-display-name]", HTMLInputElement);
const statusInput = find("[data-status-line]", HTMLInputElement);
const fileInput = find("[data-avatar-input]", HTMLInputElement);
const removeButton = find("[data-avatar-remove]");
const preview = find("[data-profile-preview]");
const statusText = find("[data-profile-status]");

/** @param {{ field?: string, limit?: number }} e */
const tooLarge = (e) => (e.field ? `That is too long: at most ${e.limit} characters.` : `That picture is too large: at most ${formatBytes(config.max_avatar_bytes)}.`);

/** @type {Record<string, (error: { field?: string, limit?: number, detail?: string }) => string>} */
const ERRORS = {
  too_large: tooLarge,
  invalid_frame: (e) => e.detail ?? "That cannot be saved.",
  unsupported_media_type: () => "That file is not a picture LinkUp can use: choose a JPEG, PNG, GIF or WebP image.",
  too_many_pixels: () => "That picture has too many pixels to process: choose a smaller one.",
  invalid_file: () => "That picture could not be read: it may be damaged.",
  forbidden: () => "You are signed out: sign in again to change your profile.",
};

/** @param {number} bytes */
function formatBytes(bytes) {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MB` : `${Math.round(bytes / 1024)} KB`;
}

/**
 * @param {string} text
 * @param {boolean} [problem]
 */
function say(text, problem = false) {
  statusText.textContent = text;
  statusText.classList.toggle("alert", problem);
}

/**
 * @param {number} status
 * @param {{ code?: string, detail?: string, field?: string, limit?: number } | null} body
 */
function refusal(status, body) {
  const explain = body?.code && Object.hasOwn(ERRORS, body.code) ? ERRORS[body.code] : undefined;
  if (body && explain) return explain(body);
  return status >= 500 ? "The server could not save this; try again." : `Not saved (${body?.detail ?? status}).`;
}

/** @param {Profile} profile */
function show(profile) {
  const name = profile.display_name || profile.username;
  const letter = preview.firstChild;
  if (letter) letter.textContent = [...name][0]?.toUpperCase() ?? "?";
  setAvatarImage(preview, profile.avatar);
  removeButton.hidden = !profile.avatar;
  nameInput.value = profile.display_name ?? "";
  statusInput.value = profile.status ?? "";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  say("Saving…");
  try {
    const { ok, status, body } = await postJSON(config.update_url, { display_name: nameInput.value, status: statusInput.value });
    if (!ok) {
      say(refusal(status, body), true);
      return;
    }
    show(body.profile);
    say("Profile saved.");
  } catch {
    say("You are offline: the profile was not saved.", true);
  }
});

fileInput.addEventListener("change", async () => {
  const file = fileInput.files?.[0];
  if (!file) return;
  if (file.size > config.max_avatar_bytes) {
    say(tooLarge({}), true);
    fileInput.value = "";
    return;
  }
  say("Uploading the picture…");
  const data = new FormData();
  data.append("avatar", file);
  try {
    const response = await fetch(config.avatar_url, { method: "POST", credentials: "same-origin", headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" }, body: data });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      say(refusal(response.status, body), true);
      return;
    }
    show(body.profile);
    say("Picture saved.");
  } catch {
    say("You are offline: the picture was not uploaded.", true);
  } finally {
    fileInput.value = "";
  }
});

removeButton.addEventListener("click", async () => {
  say("Removing the picture…");
  try {
    const { ok, status, body } = await postJSON(config.remove_avatar_url, {});
    if (!ok) {
      say(refusal(status, body), true);
      return;
    }
    show(body.profile);
    say("Picture removed: your letter avatar is shown.");
  } catch {
    say("You are offline: the picture was not removed.", true);
  }
});

paintAvatars(find("[data-profile-section]"));
