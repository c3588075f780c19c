// The JSON endpoints of bot/web/app.py and the browser-side session id.

const SESSION_KEY = "certificate-faq-session-id";
let memorySessionId = null;

function randomId() {
  const bytes = new Uint8Array(16);
  window.crypto.getRandomValues(bytes);
  return "web-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The conversation id, kept in localStorage so history survives a reload. */
export function sessionId() {
  try {
    let id = window.localStorage.getItem(SESSION_KEY);
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      id = randomId();
      window.localStorage.setItem(SESSION_KEY, id);
    }
    return id;
  } catch (error) {
    // storage blocked (e.g. third-party iframe): keep the id for this page only
    memorySessionId = memorySessionId || randomId();
    return memorySessionId;
  }
}

/** Start a fresh conversation (new id). */
export function resetSessionId() {
  try {
    window.localStorage.removeItem(SESSION_KEY);
  } catch (error) {
    memorySessionId = null;
  }
  return sessionId();
}

class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function parse(response, networkMessage) {
  let body = null;
  try {
    body = await response.json();
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    throw new ApiError((body && body.message) || networkMessage, response.status);
  }
  return body;
}

/** A new turn's id: sent with the message, and again when the candidate retries it, so
 * the turn is answered once (Rasa answers a stored turn from its stored reply). */
export function newMessageId() {
  return randomId().replace("web-", "msg-");
}

export async function postChat(session, message, networkMessage, messageId) {
  let response;
  try {
    response = await fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: session, message, message_id: messageId }),
    });
  } catch (error) {
    throw new ApiError(networkMessage, 0);
  }
  return parse(response, networkMessage);
}

export async function getHistory(session, networkMessage) {
  let response;
  try {
    response = await fetch("/api/history?session_id=" + encodeURIComponent(session));
  } catch (error) {
    throw new ApiError(networkMessage, 0);
  }
  return parse(response, networkMessage);
}

/** Rate the answer to the session's ``turn``-th question: {rating: "up"|"down", reason?, comment?}. */
export async function postFeedback(session, turn, rating, networkMessage) {
  let response;
  try {
    response = await fetch("/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ session_id: session, turn, ...rating }),
    });
  } catch (error) {
    throw new ApiError(networkMessage, 0);
  }
  return parse(response, networkMessage);
}

async function postJson(path, payload, networkMessage) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(payload),
    });
  } catch (error) {
    throw new ApiError(networkMessage, 0);
  }
  return parse(response, networkMessage);
}

/** Ask for a person (the live handoff): {handoff: {state, position, open, …}}. */
export function postLiveRequest(session, networkMessage) {
  return postJson("/api/live/request", { session_id: session }, networkMessage);
}

/** Leave a message for staff with a contact. */
export function postLeaveMessage(session, contact, message, networkMessage) {
  return postJson("/api/live/leave-message", { session_id: session, contact, message }, networkMessage);
}

export async function getLiveState(session) {
  const response = await fetch("/api/live/state?session_id=" + encodeURIComponent(session));
  return parse(response, "");
}
