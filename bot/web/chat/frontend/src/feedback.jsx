// Thumbs up / thumbs down under an answer (POST /api/feedback). A thumbs down opens a
// short form: why (a reason chip) and, if the candidate wants, a few words. Ratings
// given earlier come back with the history and show as given.
import React, { useState } from "react";
import { postFeedback } from "./api.js";

// The replies worth rating: answers, guesses and the fallback (not greetings, form
// prompts, outage notices or input errors).
export const RATEABLE_KINDS = new Set(["faq_answer", "deadline", "did_you_mean", "fallback", "clarify", "contacts"]);
const REASONS = ["off_topic", "unclear", "outdated", "other"];

/** Whether the bot message carries an answer the candidate can rate. */
export function isRateable(message) {
  return (
    message.role === "bot" && !message.local && Number.isInteger(message.turn) && message.turn > 0 &&
    !!message.custom && RATEABLE_KINDS.has(message.custom.kind)
  );
}

export function Feedback({ message, session, texts, onRated }) {
  const given = message.rating || null;
  const [asking, setAsking] = useState(false); // the thumbs-down form is open
  const [reason, setReason] = useState(given && given.reason ? given.reason : null);
  const [comment, setComment] = useState("");
  const [notice, setNotice] = useState("");
  const [sending, setSending] = useState(false);

  const send = async (rating) => {
    setSending(true);
    setNotice("");
    try {
      const stored = await postFeedback(session, message.turn, rating, texts.failed);
      onRated(message.id, { turn: stored.turn, rating: stored.rating, reason: stored.reason });
      return true;
    } catch (error) {
      setNotice(error.message || texts.failed);
      return false;
    } finally {
      setSending(false);
    }
  };

  const thumbsUp = async () => {
    setAsking(false);
    if (await send({ rating: "up" })) setNotice(texts.thanks);
  };
  const thumbsDown = async () => {
    if (await send({ rating: "down" })) setAsking(true);
  };
  const submitReason = async (event) => {
    event.preventDefault();
    const rating = { rating: "down" };
    if (reason) rating.reason = reason;
    if (comment.trim()) rating.comment = comment.trim();
    if (await send(rating)) {
      setAsking(false);
      setNotice(texts.thanks);
    }
  };

  const up = given && given.rating === "up";
  const down = given && given.rating === "down";
  return (
    <div className="msg-feedback" data-turn={message.turn} data-rating={given ? given.rating : undefined}>
      <div className="msg-feedback-buttons">
        <button type="button" className={`feedback-up${up ? " is-given" : ""}`} aria-pressed={up ? "true" : "false"}
          aria-label={up ? texts.up_given : texts.up_label} title={texts.up_label} disabled={sending} onClick={thumbsUp}>
          <span aria-hidden="true">{texts.up_icon}</span>
        </button>
        <button type="button" className={`feedback-down${down ? " is-given" : ""}`} aria-pressed={down ? "true" : "false"}
          aria-label={down ? texts.down_given : texts.down_label} title={texts.down_label} disabled={sending} onClick={thumbsDown}>
          <span aria-hidden="true">{texts.down_icon}</span>
        </button>
        {down && given.reason && !asking ? (
          <span className="feedback-reason-given">{texts.reasons[given.reason]}</span>
        ) : null}
      </div>
      {asking ? (
        <form className="feedback-form" onSubmit={submitReason}>
          <fieldset>
            <legend>{texts.reason_prompt}</legend>
            <div className="feedback-reasons" role="radiogroup" aria-label={texts.reason_prompt}>
              {REASONS.map((code) => (
                <button type="button" key={code} role="radio" aria-checked={reason === code ? "true" : "false"}
                  className={`feedback-reason${reason === code ? " is-chosen" : ""}`} data-reason={code}
                  onClick={() => setReason(reason === code ? null : code)}>
                  {texts.reasons[code]}
                </button>
              ))}
            </div>
          </fieldset>
          <textarea className="feedback-comment" rows={2} maxLength={500} value={comment}
            aria-label={texts.comment_label} placeholder={texts.comment_placeholder}
            onChange={(event) => setComment(event.target.value)} />
          <button type="submit" className="feedback-submit" disabled={sending}>{texts.submit}</button>
        </form>
      ) : null}
      {notice ? <div className="feedback-notice" role="status">{notice}</div> : null}
    </div>
  );
}
