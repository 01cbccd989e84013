// The app's own events on `document` (the `linkup:` ones), typed by name for
// TypeScript's checker only (tests/test_types_js.py); the browser never loads this file.

import type { Notification, SettingsFrame } from "./protocol/frames.js";

declare global {
  interface DocumentEventMap {
    /** theme.js: a `settings` frame from either socket, the whole frame. */
    "linkup:settings": CustomEvent<SettingsFrame>;
    /** dialogs.js: open a person's profile card, focus going back to `opener`. */
    "linkup:profile": CustomEvent<{ username: string; opener: HTMLElement }>;
    /** bell.js: the unread count changed. */
    "linkup:unread": CustomEvent<{ count: number }>;
    /** bell.js: a notification arrived. */
    "linkup:notification": CustomEvent<{ notification: Notification }>;
    /** pwa.js: the browser offers to install the app. */
    "linkup:installable": CustomEvent<null>;
    /** pwa.js: the app was installed. */
    "linkup:installed": CustomEvent<null>;
  }
}
