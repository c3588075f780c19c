// WeChat-style chat page. Bubbles, avatars, typing dots and the chip styling come
// from @chatui/core; layout, composer (IME-safe Enter) and text rendering are ours.
// Every piece of server text is rendered as React text nodes: no HTML injection.
import React, { useCallback, useEffect, useLayoutEffect, useRef, useState } from "react";
import { createRoot } from "react-dom/client";
import { Avatar, Bubble, Typing } from "@chatui/core";
import "@chatui/core/dist/index.css";
import "./chat.css";
import { FormattedText } from "./text.js";
import { getHistory, newMessageId, postChat, resetSessionId, sessionId } from "./api.js";
import { Feedback, isRateable } from "./feedback.jsx";
import { LivePanel, missesAfter, useLiveHandoff } from "./live.jsx";

const TIME_GAP_SECONDS = 5 * 60;
const BOT_AVATAR = "/static/img/bot.svg";
const USER_AVATAR = "/static/img/user.svg";

let nextLocalId = 1;
const localId = () => `m${nextLocalId++}`;
const nowSeconds = () => Date.now() / 1000;

function pad(number) {
  return String(number).padStart(2, "0");
}

/** WeChat-like time label: 今天 09:30 / 昨天 18:02 / 8月6日 10:00. */
function timeLabel(timestamp, texts) {
  const moment = new Date(timestamp * 1000);
  const today = new Date();
  const startOfToday = new Date(today.getFullYear(), today.getMonth(), today.getDate()).getTime();
  const clock = `${pad(moment.getHours())}:${pad(moment.getMinutes())}`;
  if (moment.getTime() >= startOfToday) return `${texts.today} ${clock}`;
  if (moment.getTime() >= startOfToday - 86400000) return `${texts.yesterday} ${clock}`;
  const day = texts.date_format.replace("{month}", moment.getMonth() + 1).replace("{day}", moment.getDate());
  const year = moment.getFullYear() !== today.getFullYear() ? `${moment.getFullYear()}/` : "";
  return `${year}${day} ${clock}`;
}

function citedSources(custom) {
  return custom && Array.isArray(custom.sources) ? custom.sources.filter((source) => source && typeof source === "object") : [];
}

/** The bubble text of a bot message. An answer that cites sources carries its text
 *  without the source and region lines (and a deadline without its counting) in
 *  custom.answer (docs/CONTRACTS.md); that is shown, <Details> folds the rest and
 *  <Sources> lays the sources out below, so nothing is shown twice. */
function botText(message) {
  const custom = message.custom;
  if (custom && typeof custom.answer === "string" && custom.answer.trim() && citedSources(custom).length) {
    return custom.answer;
  }
  return message.text;
}

/** The counting method and notes of a deadline answer, one tap away. */
function Details({ custom }) {
  const details = custom && custom.details;
  if (!details || !Array.isArray(details.lines) || !details.lines.length) return null;
  return (
    <details className="msg-details">
      <summary>{String(details.summary || "")}</summary>
      <FormattedText text={details.lines.map(String).join("\n")} />
    </details>
  );
}

function Sources({ custom, texts }) {
  if (!custom) return null;
  const sources = citedSources(custom);
  if (!sources.length && !custom.region_note) return null;
  return (
    <div className="msg-sources">
      {custom.region_note ? <div className="msg-region-note">{String(custom.region_note)}</div> : null}
      {sources.map((source, index) => {
        const parts = [source.title, source.issuer, source.date, source.region]
          .filter((part) => part !== null && part !== undefined && String(part).trim() !== "")
          .map(String);
        return (
          <div className="msg-source" key={index}>
            <span className="msg-source-label">{texts.sources_label}</span>
            <span className="msg-source-text">{parts.join(" · ")}</span>
          </div>
        );
      })}
      {sources.length > 0 && custom.region ? (
        <div className="msg-source msg-region">
          <span className="msg-source-label">{texts.region_note_label}</span>
          <span className="msg-source-text">{String(custom.region)}</span>
        </div>
      ) : null}
    </div>
  );
}

function MessageRow({ message, texts, onRetry, feedback }) {
  if (message.role === "system") {
    return (
      <div className="chat-system" role="status">
        <span>{message.text}</span>
      </div>
    );
  }
  const isUser = message.role === "user";
  return (
    <div className={`chat-row ${isUser ? "chat-row-user" : "chat-row-bot"}`} data-role={message.role}
      data-staff={message.staff || undefined} data-kind={message.custom && message.custom.kind ? String(message.custom.kind) : undefined}>
      <Avatar src={isUser ? USER_AVATAR : BOT_AVATAR} alt={isUser ? texts.user_avatar_alt : texts.bot_avatar_alt} shape="square" />
      <div className="chat-bubble-column">
        {message.staff ? <div className="msg-staff">{`${texts.live.staff_label} ${message.staff}`}</div> : null}
        <Bubble type="text" className={`Bubble text ${isUser ? "bubble-user" : "bubble-bot"}`}>
          {isUser ? <div className="msg-text"><p className="msg-line">{message.text}</p></div> : <FormattedText text={botText(message)} />}
          {!isUser ? <Details custom={message.custom} /> : null}
          {!isUser ? <Sources custom={message.custom} texts={texts} /> : null}
          {!isUser && onRetry ? (
            <button type="button" className="msg-retry" onClick={onRetry}>{texts.retry}</button>
          ) : null}
        </Bubble>
        {feedback}
      </div>
    </div>
  );
}

function App({ config }) {
  const texts = config.texts;
  const feedbackTexts = texts.feedback;
  const maxChars = config.maxMessageChars;
  const [session, setSession] = useState(() => sessionId());
  const [messages, setMessages] = useState([]);
  const [draft, setDraft] = useState("");
  const [pending, setPending] = useState(false);
  const [loaded, setLoaded] = useState(false);
  const composing = useRef(false);
  const listRef = useRef(null);
  const [misses, setMisses] = useState(0);       // misses in a row: two offer a person
  const [thumbsDown, setThumbsDown] = useState(false);
  const inputRef = useRef(null);

  const welcome = useCallback(
    () => ({
      id: localId(),
      role: "bot",
      text: texts.welcome.trim(),
      buttons: (texts.welcome_suggestions || []).map((question) => ({ title: question, payload: question })),
      custom: null,
      timestamp: nowSeconds(),
      local: true,
    }),
    [texts]
  );

  useEffect(() => {
    let cancelled = false;
    setLoaded(false);
    getHistory(session, texts.history_error)
      .then((body) => {
        if (cancelled) return;
        const history = (body.messages || []).map((message) => ({ ...message, id: localId() }));
        setMessages(history.length ? history : [welcome()]);
      })
      .catch((error) => {
        if (cancelled) return;
        setMessages([welcome(), { id: localId(), role: "system", text: error.message || texts.history_error }]);
      })
      .finally(() => !cancelled && setLoaded(true));
    return () => {
      cancelled = true;
    };
  }, [session, texts, welcome]);

  // a staff member's message, live; one arriving twice (stream and catch-up) shows once
  const staffMessage = useCallback((bubble) => {
    setMessages((list) =>
      list.some((m) => m.staff && m.timestamp === bubble.timestamp && m.text === bubble.text)
        ? list : [...list, { ...bubble, id: localId() }]);
  }, []);
  // after a break in the live stream (a web front restart): the staff's messages the
  // tracker has and the page does not, in order; nothing on the page is replaced
  const catchUp = useCallback(() => {
    getHistory(session, texts.history_error)
      .then((body) => (body.messages || []).filter((message) => message.staff).forEach(staffMessage))
      .catch(() => {});
  }, [session, texts, staffMessage]);
  const [handoff, setHandoff, liveConnected, liveRefused] = useLiveHandoff(session, staffMessage, catchUp);
  const previousHandoff = useRef(null);
  useEffect(() => {
    const before = previousHandoff.current;
    previousHandoff.current = handoff;
    if (before && (before.state === "claimed" || before.state === "queued") && handoff && handoff.state === "ended") {
      setMessages((list) => [...list, { id: localId(), role: "system", text: texts.live.ended }]);
      setMisses(0);
      setThumbsDown(false);
    }
  }, [handoff, texts]);

  // keep the newest bubble in view (also when the keyboard shrinks the viewport)
  const scrollToBottom = useCallback(() => {
    const list = listRef.current;
    if (list) list.scrollTop = list.scrollHeight;
  }, []);
  useLayoutEffect(scrollToBottom, [messages, pending, scrollToBottom]);
  useEffect(() => {
    const viewport = window.visualViewport;
    const apply = () => {
      const height = viewport ? viewport.height : window.innerHeight;
      document.documentElement.style.setProperty("--app-height", `${Math.round(height)}px`);
      scrollToBottom();
    };
    apply();
    (viewport || window).addEventListener("resize", apply);
    return () => (viewport || window).removeEventListener("resize", apply);
  }, [scrollToBottom]);

  const send = useCallback(
    async (rawText, shownText, retriedId) => {
      const text = String(rawText || "").trim();
      if (!text || pending) return;
      if (text.length > maxChars) {
        setMessages((list) => [...list, { id: localId(), role: "system", text: texts.too_long.replace("{limit}", maxChars) }]);
        return;
      }
      const messageId = retriedId || newMessageId();
      const userMessage = { id: localId(), role: "user", text: shownText || text, timestamp: nowSeconds(), messageId };
      const lastBotBefore = [...messages].reverse().find((message) => message.role === "bot");
      setMessages((list) => [...list, userMessage]);
      setPending(true);
      try {
        const body = await postChat(session, text, texts.network_error, messageId);
        setMessages((list) => {
          const updated = list.map((message) =>
            message.id === userMessage.id && body.masked ? { ...message, text: body.user_text } : message
          );
          const notice = body.masked ? [{ id: localId(), role: "system", text: texts.masked_notice }] : [];
          // the question's number (null when Rasa did not answer): what a rating refers to
          const turn = Number.isInteger(body.turn) ? body.turn : null;
          const replies = (body.messages || []).map((message) => ({ ...message, id: localId(), turn, rating: null }));
          return [...updated, ...notice, ...replies];
        });
        if (body.handoff) {
          setHandoff({ ...body.handoff, asked: true });
        } else {
          const last = (body.messages || [])[body.messages.length - 1];
          setMisses((count) => missesAfter(count, last, lastBotBefore, text));
        }
      } catch (error) {
        // the web front itself is unreachable: a bubble like the server's own outage reply
        const failed = { id: localId(), role: "bot", text: error.message || texts.network_error,
          custom: { kind: "unavailable", retry: true, sources: [] }, timestamp: nowSeconds(), local: true };
        setMessages((list) => [...list, failed]);
      } finally {
        setPending(false);
      }
    },
    [pending, session, maxChars, texts, messages, setHandoff]
  );

  const submitDraft = () => {
    if (!draft.trim() || pending) return;
    const text = draft;
    setDraft("");
    send(text);
    if (inputRef.current) inputRef.current.focus();
  };

  const onKeyDown = (event) => {
    if (event.key !== "Enter" || event.shiftKey) return;
    // an IME (e.g. pinyin) uses Enter to commit its candidate: never send then
    if (composing.current || event.nativeEvent.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submitDraft();
  };

  const startNewConversation = () => {
    if (pending) return;
    setSession(resetSessionId());
  };

  const lastBot = [...messages].reverse().find((message) => message.role === "bot");
  const quickReplies =
    !pending && lastBot && Array.isArray(lastBot.buttons)
      ? lastBot.buttons.map((button) => ({ name: String(button.title), code: String(button.payload) }))
      : [];

  // an outage reply offers to send the candidate's message again (the last one before it)
  const retryFor = (index) => {
    const message = messages[index];
    if (pending || !message.custom || !message.custom.retry || index !== messages.length - 1) return null;
    const asked = [...messages.slice(0, index)].reverse().find((m) => m.role === "user");
    return asked ? () => send(asked.text, undefined, asked.messageId) : null;
  };

  const rated = useCallback((id, rating) => {
    setMessages((list) => list.map((message) => (message.id === id ? { ...message, rating } : message)));
    if (rating && rating.rating === "down") setThumbsDown(true);
  }, []);

  // one rating per question: under the last rateable bubble answering it
  const ratedAt = new Map();
  messages.forEach((message, index) => {
    if (isRateable(message)) ratedAt.set(message.turn, index);
  });

  let previousTimestamp = null;
  const rows = [];
  messages.forEach((message, index) => {
    if (message.timestamp && (previousTimestamp === null || message.timestamp - previousTimestamp > TIME_GAP_SECONDS)) {
      rows.push(
        <div className="chat-time" key={`t-${message.id}`}>
          <span>{timeLabel(message.timestamp, texts)}</span>
        </div>
      );
    }
    if (message.timestamp) previousTimestamp = message.timestamp;
    const feedback = isRateable(message) && ratedAt.get(message.turn) === index && feedbackTexts ? (
      <Feedback message={message} session={session} texts={feedbackTexts} onRated={rated} />
    ) : null;
    rows.push(<MessageRow key={message.id} message={message} texts={texts} onRetry={retryFor(index)} feedback={feedback} />);
  });

  const remaining = maxChars - draft.length;
  return (
    <div className={`chat-app${config.embedded ? " chat-app-embedded" : ""}`}>
      {config.embedded ? null : (
        <header className="chat-header">
          <div className="chat-header-title">{texts.header_title}</div>
          <div className="chat-header-subtitle">{texts.header_subtitle}</div>
          <button type="button" className="chat-new" onClick={startNewConversation} disabled={pending}>
            {texts.new_conversation}
          </button>
        </header>
      )}
      <main className="chat-list" ref={listRef} aria-live="polite" data-loaded={loaded ? "true" : "false"}>
        {rows}
        {pending ? (
          <div className="chat-row chat-row-bot chat-typing" data-role="typing" aria-label={texts.typing}>
            <Avatar src={BOT_AVATAR} alt={texts.bot_avatar_alt} shape="square" />
            <div className="chat-bubble-column">
              <Typing />
            </div>
          </div>
        ) : null}
      </main>
      <footer className="chat-footer">
        <LivePanel session={session} texts={texts.live} handoff={handoff} setHandoff={setHandoff}
          offered={misses >= 2 || thumbsDown} connected={liveConnected} refused={liveRefused}
          onLeft={() => { setMisses(0); setThumbsDown(false); }} />
        {quickReplies.length ? (
          // ChatUI's QuickReplies is a carousel with arrow controls on desktop; a plain
          // horizontally scrolling row of its QuickReply chips reads better here
          <div className="chat-quick-replies" role="group" aria-label={texts.related_label}>
            {quickReplies.map((item, index) => (
              <button type="button" key={`${index}-${item.code}`} className="QuickReply chat-chip" data-payload={item.code}
                onClick={() => send(item.code, item.name)}>
                <span className="QuickReply-inner">{item.name}</span>
              </button>
            ))}
          </div>
        ) : null}
        <div className="chat-composer">
          <textarea
            ref={inputRef}
            className="chat-input"
            rows={1}
            value={draft}
            maxLength={maxChars}
            placeholder={texts.input_placeholder}
            enterKeyHint="send"
            aria-label={texts.input_placeholder}
            onChange={(event) => setDraft(event.target.value)}
            onCompositionStart={() => {
              composing.current = true;
            }}
            onCompositionEnd={() => {
              composing.current = false;
            }}
            onKeyDown={onKeyDown}
          />
          <button type="button" className="chat-send" onClick={submitDraft} disabled={pending || !draft.trim()}>
            {texts.send}
          </button>
        </div>
        {remaining < 100 ? <div className="chat-counter">{remaining}</div> : null}
      </footer>
    </div>
  );
}

const mountPoint = document.getElementById("app");
const config = JSON.parse(mountPoint.getAttribute("data-config"));
createRoot(mountPoint).render(<App config={config} />);
