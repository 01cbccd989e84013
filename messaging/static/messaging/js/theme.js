// @ts-check
// The theme (system, light, dark) on every page. The server renders the
// signed-in user's choice into <html data-theme> (no flash of the other
// theme); app.css draws "system" from prefers-color-scheme. This module
// applies a change at once: from the settings page, or from a `settings`
// frame that another tab's change pushed over ws/chat/ or ws/notifications/.
// It also keeps the device's last theme in a cookie, which the server reads
// for the pages seen signed out, and which the cached offline page (rendered
// with no user, so with no data-theme) applies here.

/** @import { SettingsFrame } from "./protocol/frames.js" */

/** @type {readonly string[]} */
export const THEMES = ["system", "light", "dark"];
const COOKIE = "linkup_theme";
const YEAR_SECONDS = 365 * 24 * 3600;
const COLOURS = { light: "#4338ca", dark: "#1e1b4b" };
const root = document.documentElement;

function cookieTheme() {
  const pair = document.cookie.split("; ").find((c) => c.startsWith(`${COOKIE}=`));
  const value = pair?.slice(COOKIE.length + 1);
  return value !== undefined && THEMES.includes(value) ? value : null;
}

/** @param {string} theme "system", "light" or "dark" */
function remember(theme) {
  const secure = location.protocol === "https:" ? "; Secure" : "";
  document.cookie = `${COOKIE}=${theme}; Max-Age=${YEAR_SECONDS}; Path=/; SameSite=Lax${secure}`;
}

/**
 * @param {string} name
 * @param {string} content
 * @param {string | null} [media]
 */
function meta(name, content, media = null) {
  const el = document.createElement("meta");
  el.name = name;
  el.content = content;
  if (media) el.media = media;
  document.head.append(el);
}

/**
 * Wear ``theme`` now: the attribute app.css keys on, the browser's own colours (forms, scrollbars), the bar colour.
 * @param {string} theme
 */
export function applyTheme(theme) {
  if (!THEMES.includes(theme)) return;
  root.dataset.theme = theme;
  for (const el of document.head.querySelectorAll('meta[name="color-scheme"], meta[name="theme-color"]')) el.remove();
  meta("color-scheme", theme === "system" ? "light dark" : theme);
  if (theme === "system") {
    meta("theme-color", COLOURS.light, "(prefers-color-scheme: light)");
    meta("theme-color", COLOURS.dark, "(prefers-color-scheme: dark)");
  } else {
    meta("theme-color", theme === "dark" ? COLOURS.dark : COLOURS.light);
  }
  remember(theme);
}

/**
 * A `settings` frame: apply the keys this page knows (the theme) and ignore
 * the others (other settings share the frame). The page's own listeners get
 * the whole frame as a `linkup:settings` event.
 * @param {SettingsFrame} frame
 */
export function applySettings(frame) {
  if (typeof frame?.settings?.theme === "string") applyTheme(frame.settings.theme);
  document.dispatchEvent(new CustomEvent("linkup:settings", { detail: frame }));
}

if (!root.dataset.theme) {
  const theme = cookieTheme();
  if (theme) applyTheme(theme);
} else if (cookieTheme() !== root.dataset.theme) {
  remember(root.dataset.theme);
}
