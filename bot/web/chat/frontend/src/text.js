// Turning plain bot text into safe React nodes: text nodes only (React escapes),
// http(s) links only, numbered and bulleted lines laid out as list items.
import React from "react";

const URL_PATTERN = /https?:\/\/[^\s<>"'，。；：、！？（）【】《》“”‘’]+/g;
const TRAILING_PUNCTUATION = /[.,;:!?)\]}]+$/;
const LIST_MARKER = /^\s*((?:\d{1,2}|[一二三四五六七八九十]{1,3})[.、．)）]|[（(](?:\d{1,2}|[一二三四五六七八九十]{1,3})[)）]|[•·\-*])\s*/;

/** A URL we are willing to turn into a link, or null. */
export function safeHref(candidate) {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (error) {
    return null;
  }
}

/** One line → text and <a> nodes. */
export function linkify(line, keyPrefix) {
  const nodes = [];
  let last = 0;
  line.replace(URL_PATTERN, (match, offset) => {
    let urlText = match;
    const trailing = urlText.match(TRAILING_PUNCTUATION);
    if (trailing) urlText = urlText.slice(0, -trailing[0].length);
    const href = safeHref(urlText);
    if (!href) return match;
    if (offset > last) nodes.push(line.slice(last, offset));
    nodes.push(
      <a key={`${keyPrefix}-a${offset}`} href={href} target="_blank" rel="noopener noreferrer">
        {urlText}
      </a>
    );
    last = offset + urlText.length;
    return match;
  });
  if (last < line.length) nodes.push(line.slice(last));
  return nodes;
}

/** Bot text → paragraphs and list items (markers kept as the author wrote them). */
export function FormattedText({ text }) {
  const lines = String(text || "").replace(/\r\n?/g, "\n").split("\n");
  const blocks = [];
  lines.forEach((line, index) => {
    if (!line.trim()) {
      blocks.push(<div key={`b${index}`} className="msg-gap" />);
      return;
    }
    const marker = line.match(LIST_MARKER);
    if (marker) {
      blocks.push(
        <div key={`l${index}`} className="msg-list-item">
          <span className="msg-list-marker">{marker[1]}</span>
          <span className="msg-list-body">{linkify(line.slice(marker[0].length), `l${index}`)}</span>
        </div>
      );
    } else {
      blocks.push(
        <p key={`p${index}`} className="msg-line">
          {linkify(line, `p${index}`)}
        </p>
      );
    }
  });
  return <div className="msg-text">{blocks}</div>;
}
