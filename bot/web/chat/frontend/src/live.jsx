// The live handoff (转人工) in the widget: the offer of a person, the queue and the
// person's messages as they come (server-sent events, /api/live/stream), and the form to
// leave a message out of hours or when nobody is free. Server text is React text only.
import React, { useEffect, useRef, useState } from "react";
import { getLiveState, postLeaveMessage, postLiveRequest } from "./api.js";

const LIVE_STATES = new Set(["queued", "claimed"]);
const POLL_SECONDS = 5; // while the server refuses a stream

/** Whether a person has (or is being asked for) the conversation. */
export function isLive(handoff) {
  return !!handoff && LIVE_STATES.has(handoff.state);
}

/** Misses in a row: a fallback, or a clarifying question the candidate did not pick. */
export function missesAfter(misses, reply, lastBot, sentText) {
  let count = misses;
  const lastKind = lastBot && lastBot.custom ? lastBot.custom.kind : null;
  if ((lastKind === "did_you_mean" || lastKind === "clarify") && lastBot.buttons &&
      !lastBot.buttons.some((button) => button.payload === sentText || button.title === sentText)) {
    count += 1;
  }
  const kind = reply && reply.custom ? reply.custom.kind : null;
  if (kind === "fallback") return count + 1;
  if (kind === "faq_answer" || kind === "deadline") return 0;
  return count;
}

/** The conversation's handoff, kept live: its state and the staff's messages. When the
 * server holds too many streams it says so (`refused`) and closes this one: the widget
 * then polls the state and the history until a stream is accepted again. */
export function useLiveHandoff(session, onMessage, onReconnect) {
  const [handoff, setHandoff] = useState(null);
  const [connected, setConnected] = useState(true);
  const [refused, setRefused] = useState("");
  const callbacks = useRef({ onMessage, onReconnect });
  callbacks.current = { onMessage, onReconnect };

  useEffect(() => {
    let cancelled = false;
    setHandoff(null);
    getLiveState(session).then((body) => !cancelled && body && setHandoff(body.handoff)).catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [session]);

  const live = isLive(handoff);
  useEffect(() => {
    if (!live || typeof window.EventSource !== "function") return undefined;
    const source = new window.EventSource("/api/live/stream?session_id=" + encodeURIComponent(session));
    let opened = 0;
    let poll = null;
    const stopPolling = () => {
      if (poll !== null) window.clearInterval(poll);
      poll = null;
      setRefused("");
    };
    source.addEventListener("state", (event) => {
      stopPolling(); // only an accepted stream sends the state
      setHandoff(JSON.parse(event.data));
    });
    source.addEventListener("message", (event) => callbacks.current.onMessage(JSON.parse(event.data)));
    source.addEventListener("refused", (event) => {
      setRefused(JSON.parse(event.data).message || "");
      if (poll !== null) return;
      poll = window.setInterval(() => {
        getLiveState(session).then((body) => body && setHandoff(body.handoff)).catch(() => {});
        callbacks.current.onReconnect();
      }, POLL_SECONDS * 1000);
    });
    source.addEventListener("open", () => {
      setConnected(true);
      opened += 1;
      if (opened > 1) callbacks.current.onReconnect(); // catch up from the tracker
    });
    source.addEventListener("error", () => setConnected(false));
    return () => {
      if (poll !== null) window.clearInterval(poll);
      source.close();
    };
  }, [live, session]);

  return [handoff, setHandoff, connected, refused];
}

function LeaveMessage({ session, texts, onLeft }) {
  const [contact, setContact] = useState("");
  const [message, setMessage] = useState("");
  const [notice, setNotice] = useState("");
  const [sending, setSending] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    if (!contact.trim() || !message.trim() || sending) return;
    setSending(true);
    try {
      const body = await postLeaveMessage(session, contact, message, texts.leave_failed);
      onLeft(body.handoff);
    } catch (error) {
      setNotice(error.message || texts.leave_failed);
    } finally {
      setSending(false);
    }
  };
  return (
    <form className="live-leave" onSubmit={submit}>
      <div className="live-leave-title">{texts.leave_title}</div>
      <input className="live-contact" value={contact} maxLength={100} placeholder={texts.contact_label}
        aria-label={texts.contact_label} onChange={(event) => setContact(event.target.value)} />
      <textarea className="live-leave-text" rows={2} value={message} maxLength={1000} placeholder={texts.message_label}
        aria-label={texts.message_label} onChange={(event) => setMessage(event.target.value)} />
      <button type="submit" className="live-leave-submit" disabled={sending || !contact.trim() || !message.trim()}>
        {texts.leave_submit}
      </button>
      {notice ? <div className="live-notice" role="alert">{notice}</div> : null}
    </form>
  );
}

/** The strip above the composer: the offer, the queue, the person, the message form. */
export function LivePanel({ session, texts, handoff, setHandoff, offered, connected, refused, onLeft }) {
  const [notice, setNotice] = useState("");
  const [leaving, setLeaving] = useState(false);
  const take = async () => {
    setNotice("");
    try {
      const body = await postLiveRequest(session, texts.request_failed);
      setHandoff(body.handoff);
      if (!body.handoff.open) setLeaving(true);
    } catch (error) {
      setNotice(error.message || texts.request_failed);
    }
  };
  const left = (view) => {
    setLeaving(false);
    setNotice(texts.leave_done);
    setHandoff(view);
    onLeft();
  };
  let body = null;
  const state = handoff ? handoff.state : "none";
  if (state === "queued") {
    body = (
      <>
        <div className="live-status" data-state="queued" data-position={handoff.position}>
          {handoff.position > 1 ? texts.queued.replace("{ahead}", handoff.position - 1) : texts.queued_first}
        </div>
        {handoff.unclaimed ? (
          <>
            <div className="live-status">{texts.unclaimed}</div>
            <LeaveMessage session={session} texts={texts} onLeft={left} />
          </>
        ) : null}
      </>
    );
  } else if (state === "claimed") {
    body = <div className="live-status" data-state="claimed">{texts.claimed.replace("{staff}", handoff.staff || "")}</div>;
  } else if (leaving || (handoff && handoff.open === false && handoff.asked)) {
    body = (
      <>
        <div className="live-status" data-state="closed">{texts.closed.replace("{hours}", (handoff && handoff.hours) || "")}</div>
        <LeaveMessage session={session} texts={texts} onLeft={left} />
      </>
    );
  } else if (offered) {
    body = (
      <div className="live-offer">
        <span>{texts.offer}</span>
        <button type="button" className="live-offer-button" onClick={take}>{texts.offer_button}</button>
      </div>
    );
  }
  if (!body && !notice) return null;
  return (
    <div className="live-panel" role="status">
      {body}
      {isLive(handoff) && refused ? <div className="live-notice" data-refused="true">{refused}</div> : null}
      {isLive(handoff) && !connected && !refused ? <div className="live-notice">{texts.reconnecting}</div> : null}
      {notice ? <div className="live-notice">{notice}</div> : null}
    </div>
  );
}
