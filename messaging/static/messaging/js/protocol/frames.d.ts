// The wire frames of docs/protocol.md as types, for TypeScript's checker only
// (tests/test_types_js.py): the browser never loads this file, and the modules
// name these types in JSDoc (`@import { ServerFrame } from "./protocol/frames.js"`).
// A change to a frame changes docs/protocol.md and this file in the same commit.
// The server holds the same frames in messaging/frames.py (what it sends, as
// TypedDicts) and messaging/connection_validator.py (what it accepts, as
// dataclasses); tests/test_frame_types.py keeps the frame type names equal.
// Fields a newer server may add are allowed (a client ignores what it does not
// know), so a frame type lists what the app reads and sends, not a closed set.

/** ISO 8601 with microseconds and an explicit offset. */
export type Time = string;

/** A request's `ref`, echoed by its answer or error. */
export type Ref = string | number;

/** The identity `P` of a person; null fields are unset (show the username and the letter avatar). */
export interface Profile {
  username: string;
  display_name: string | null;
  avatar: string | null;
  status: string | null;
}

/** A direct conversation's peer: `P` plus presence. */
export interface Peer extends Profile {
  online?: boolean;
  last_seen?: Time | null;
}

/** The attachment `A`: images have `width`, `height` and `thumbnail_url`, anything else null there. */
export interface Attachment {
  id: number;
  name: string;
  size: number;
  type: string;
  width: number | null;
  height: number | null;
  url: string;
  thumbnail_url: string | null;
}

export type EventKind =
  | "message"
  | "created"
  | "members_added"
  | "member_removed"
  | "member_left"
  | "renamed"
  | "role_changed"
  | "edited"
  | "deleted"
  | "reaction_added"
  | "reaction_removed";

export interface Reaction {
  emoji: string;
  count: number;
  users: string[];
}

/** A reply's quote, made per reader: `sender` and `preview` are null when the reader cannot see the original. */
export interface ReplyQuote {
  seq: number;
  sender: string | null;
  preview: string | null;
  deleted: boolean;
}

/** What `data` holds, by `kind` (docs/protocol.md, "The conversation log"). */
export interface EventData {
  attachments?: Attachment[];
  title?: string;
  members?: string[];
  users?: string[];
  user?: string;
  new_owner?: string;
  role?: "admin" | "member";
  emoji?: string;
}

/** The event `E`; a `message` also carries its state for its reader; a placeholder has `hidden: true`. */
export interface Event {
  conversation: number;
  seq: number;
  id: number;
  kind: EventKind;
  sender: string | null;
  created_at: Time;
  client_id?: string | null;
  content: string;
  target_seq: number | null;
  data: EventData;
  hidden?: boolean;
  edited_at?: Time | null;
  deleted?: boolean;
  reactions?: Reaction[];
  reply_to?: ReplyQuote | null;
  as_of?: number | null;
}

/** The receipt `R`: a member's cursors. */
export interface Receipt {
  user: string;
  delivered_seq: number;
  read_seq: number;
  joined_seq?: number;
}

export type Role = "owner" | "admin" | "member";

/** The conversation summary `C` (in `resume` answers with `events`, `has_more` and `receipts`). */
export interface ConversationSummary {
  id: number;
  kind: "direct" | "group";
  title: string | null;
  peer: Peer | null;
  member_count: number;
  last_seq: number;
  last_message: Event | null;
  last_activity: Time | null;
  role: Role;
  joined_seq: number;
  left_seq: number | null;
  delivered_seq: number;
  read_seq: number;
  unread: number;
  muted_until: Time | null;
  /** pinned to the top of my inbox since then (protocol 8) */
  pinned_at?: Time | null;
  /** my "clear chat" position: messages up to it are gone from my view */
  cleared_seq: number;
  events?: Event[];
  has_more?: boolean;
  receipts?: Receipt[];
}

/** A member in a `members` answer: identity, role, cursors and presence. */
export interface Member extends Profile {
  role: Role;
  joined_seq: number;
  delivered_seq: number;
  read_seq: number;
  online: boolean;
  last_seen: Time | null;
}

/** The user's settings, the whole set in a `settings` push; a client applies the keys it knows. */
export interface Settings {
  in_app?: boolean;
  email?: boolean;
  desktop?: boolean;
  quiet_hours_start?: string | null;
  quiet_hours_end?: string | null;
  time_zone?: string;
  read_receipts?: boolean;
  hide_notification_content?: boolean;
  theme?: "system" | "light" | "dark";
}

/** A search hit `H`. */
export interface SearchHit {
  conversation: number;
  seq: number;
  id: number;
  sender: string;
  created_at: Time;
  snippet: { text: string; highlights: [number, number][]; cut_start: boolean; cut_end: boolean };
  score?: number;
}

/** The notification `N` of `ws/notifications/`. */
export interface Notification {
  id: number;
  kind: string;
  title: string;
  body: string;
  url: string;
  count: number;
  created_at: Time;
  updated_at: Time;
  read: boolean;
}

// ---- server → client on ws/chat/ -------------------------------------------

interface Answer {
  ref?: Ref;
}

export interface ConnectedFrame {
  type: "connected";
  protocol: number;
  user: Profile;
  limits: { max_length: number; max_frame_bytes: number; page: number; max_group_members: number };
  read_receipts: boolean;
}

export interface EventFrame {
  type: "event";
  event: Event;
}

/** The answer to an event a client caused; `hide`/`clear` answer with `event: null` and `hidden`. */
export interface AckFrame extends Answer {
  type: "ack";
  client_id: string;
  event: Event | null;
  conversation?: ConversationSummary;
  hidden?: HiddenFrame;
}

export interface ReceiptsFrame {
  type: "receipts";
  conversation: number;
  receipts: Receipt[];
}

export interface TypingPush {
  type: "typing";
  conversation: number;
  user: string;
  is_typing: boolean;
}

export interface PresenceFrame {
  type: "presence";
  user: string;
  online: boolean;
  last_seen: Time | null;
}

export interface ConversationFrame {
  type: "conversation";
  conversation: ConversationSummary;
}

export interface MutedFrame extends Answer {
  type: "muted";
  conversation: number;
  muted_until: Time | null;
}

export interface PinnedFrame extends Answer {
  type: "pinned";
  conversation: number;
  pinned_at: Time | null;
}

export interface SettingsFrame {
  type: "settings";
  settings: Settings;
}

export interface HiddenFrame {
  type: "hidden";
  conversation: number;
  seqs: number[];
  cleared_seq: number;
}

export interface ProfileFrame {
  type: "profile";
  user: Profile;
}

/**
 * `{"type": "error", "code", "detail", "ref"?, "client_id"?, "retry_after"?, "setting"?, "limit"?}`; the socket stays open.
 * Any error with `retry_after` is a refusal to wait out, whatever its code (protocol/refusals.js).
 */
export interface ErrorFrame extends Answer {
  type: "error";
  code: string;
  detail: string;
  client_id?: string;
  /** seconds to wait before sending the same again */
  retry_after?: number;
  /** the setting whose allowance was passed (with `retry_after`), e.g. `MESSAGING_FETCH_WORK_LIMIT` */
  setting?: string;
  limit?: number;
}

export interface PongFrame extends Answer {
  type: "pong";
}

export interface ConversationsAnswer extends Answer {
  type: "conversations";
  conversations: ConversationSummary[];
  has_more: boolean;
  next: string | null;
}

export interface ResumeAnswer extends Answer {
  type: "resume";
  conversations: ConversationSummary[];
  /** conversations asked for that the answer had no room for: ask again from their cursors */
  unanswered?: number[];
}

export interface SyncAnswer extends Answer {
  type: "sync";
  conversation: number;
  events: Event[];
  has_more: boolean;
  last_seq: number;
  receipts: Receipt[];
}

export interface HistoryAnswer extends Answer {
  type: "history";
  conversation: number;
  events: Event[];
  has_more: boolean;
  has_newer?: boolean;
}

export interface SearchAnswer extends Answer {
  type: "search";
  results: SearchHit[];
  /** `peer`: a direct chat's other member, by username */
  conversations: { id: number; kind: "direct" | "group"; title: string | null; peer: string | null }[];
  next: string | null;
  total: { count: number; exact: boolean } | null;
  query: Record<string, unknown>;
  warnings: string[];
}

export interface MembersAnswer extends Answer {
  type: "members";
  conversation: number;
  members: Member[];
}

export interface EditsAnswer extends Answer {
  type: "edits";
  conversation: number;
  seq: number;
  versions: { content: string; written_at: Time; replaced_at: Time | null }[];
}

/** Every frame the server sends on `ws/chat/`. */
export type ServerFrame =
  | ConnectedFrame
  | EventFrame
  | AckFrame
  | ReceiptsFrame
  | TypingPush
  | PresenceFrame
  | ConversationFrame
  | MutedFrame
  | PinnedFrame
  | SettingsFrame
  | HiddenFrame
  | ProfileFrame
  | ErrorFrame
  | PongFrame
  | ConversationsAnswer
  | ResumeAnswer
  | SyncAnswer
  | HistoryAnswer
  | SearchAnswer
  | MembersAnswer
  | EditsAnswer;

// ---- client → server on ws/chat/ -------------------------------------------

interface Request {
  ref?: Ref;
}

export type ClientFrame = Request &
  (
    | { type: "ping" }
    | { type: "conversations"; before?: string | null; limit?: number }
    | { type: "resume"; cursors: Record<string, number> }
    | { type: "sync"; conversation: number; after: number; limit?: number }
    | { type: "history"; conversation: number; before?: number | null; around?: number; limit?: number }
    | {
        type: "search";
        q: string;
        sort?: "newest" | "relevance";
        cursor?: string | null;
        limit?: number;
        count?: "estimate" | "exact";
      }
    | {
        type: "message";
        conversation?: number;
        to?: string | null;
        content: string;
        client_id: string;
        reply_to?: number | null;
        attachments?: number[];
      }
    | { type: "edit"; conversation: number; seq: number; content: string; client_id: string }
    | { type: "delete"; conversation: number; seq: number; client_id: string }
    | { type: "react" | "unreact"; conversation: number; seq: number; emoji: string; client_id: string }
    | { type: "hide"; conversation: number; seqs: number[]; client_id: string }
    | { type: "clear"; conversation: number; client_id: string }
    | { type: "edits"; conversation: number; seq: number }
    | { type: "received" | "read"; conversation: number; up_to: number }
    | { type: "typing"; conversation: number; is_typing: boolean }
    | { type: "view"; conversation: number | null }
    | { type: "create_group"; title: string; members: string[]; client_id: string }
    | { type: "add_members"; conversation: number; users: string[]; client_id: string }
    | { type: "remove_member"; conversation: number; user: string; client_id: string }
    | { type: "leave"; conversation: number; client_id: string }
    | { type: "rename"; conversation: number; title: string; client_id: string }
    | { type: "set_role"; conversation: number; user: string; role: "admin" | "member"; client_id: string }
    | { type: "mute"; conversation: number; until: Time | "forever" | null }
    | { type: "pin"; conversation: number; pinned: boolean }
    | { type: "members"; conversation: number }
  );

// ---- ws/notifications/ -----------------------------------------------------

/** The answer to `list`: a page of notifications, newest first. */
export interface NotificationsAnswer extends Answer {
  type: "notifications";
  items: Notification[];
  has_more: boolean;
}

/** Every frame the server sends on `ws/notifications/`. */
export type NotificationServerFrame =
  | ({ type: "unread_count"; count: number } & Answer)
  | ({ type: "notification"; notification: Notification } & Answer)
  | NotificationsAnswer
  | SettingsFrame
  | ErrorFrame
  | PongFrame;

/** Every frame a client sends on `ws/notifications/`. */
export type NotificationClientFrame = Request &
  (
    | { type: "ping" }
    | { type: "mark_read"; id: number }
    | { type: "mark_all_read" }
    | { type: "list"; before?: number | null; limit?: number }
  );


// ---- requests and their answers --------------------------------------------

/**
 * The frame that answers a request, by the request's `type` (on either socket):
 * the server echoes the request's `ref` on it (messaging/consumers.py, `answer(..., frame.ref)`).
 * An `error` frame with that ref rejects the request instead (protocol/requests.js),
 * so this is what the request resolves with. A client frame not named here
 * (`received`, `read`, `typing`, `view`, `mark_read`, `mark_all_read`) is never
 * answered by ref: it is sent, not requested.
 */
export interface RequestAnswers {
  ping: PongFrame;
  conversations: ConversationsAnswer;
  resume: ResumeAnswer;
  sync: SyncAnswer;
  history: HistoryAnswer;
  search: SearchAnswer;
  members: MembersAnswer;
  edits: EditsAnswer;
  mute: MutedFrame;
  pin: PinnedFrame;
  /** a first message to `to` also carries the new conversation's summary */
  message: AckFrame;
  /** `event: null` when nothing changed */
  edit: AckFrame;
  delete: AckFrame;
  react: AckFrame;
  unreact: AckFrame;
  /** `event: null` and `hidden` */
  hide: AckFrame;
  clear: AckFrame;
  /** with the new group's summary as `conversation` */
  create_group: AckFrame;
  add_members: AckFrame;
  remove_member: AckFrame;
  leave: AckFrame;
  rename: AckFrame;
  set_role: AckFrame;
  /** on `ws/notifications/` */
  list: NotificationsAnswer;
}

/** A frame that is answered by ref (what `Requests.request()` may send). */
export type Requestable = { type: keyof RequestAnswers };

/** What the request `F` resolves with: `AnswerTo<{ type: "sync", ... }>` is a `SyncAnswer`. */
export type AnswerTo<F extends Requestable> = RequestAnswers[F["type"]];
