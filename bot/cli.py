"""Command line: ``python -m bot {ask,search,index,validate,import}``.

Exit codes: 0 done (a fallback is a normal answer), 1 the data or index is not
usable, 2 the input is not a question (empty, symbols only, too long, bad encoding).
Problems are printed as one line from ``data/faq/messages.yml``; set ``BOT_DEBUG=1``
to see tracebacks.
"""

from __future__ import annotations

import argparse
import os
import sys

from bot import datafiles
from bot.dialogue.replies import (check_question, cited_documents, decision_reply, format_date,
                                  sources_of)
from bot.lang.text import is_traditional, strip_control, to_simplified, to_traditional
from bot.retrieval.settings import Settings, load_settings

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_ERROR):
        super().__init__(message)
        self.code = code


def check_input(text: str | None, settings: Settings, messages: dict) -> str:
    """The cleaned question, or raise ``CliError`` (exit 2) with the reply the chat gives
    such input (empty, symbols only, too long) or the CLI's own for a bad encoding."""
    text = text or ""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise CliError(messages["bad_encoding"], EXIT_BAD_INPUT) from None
    cleaned = " ".join(strip_control(text).split())
    invalid = check_question(cleaned, settings.max_input_chars)
    if invalid:
        raise CliError(invalid.text, EXIT_BAD_INPUT)
    return cleaned


def _engine(settings: Settings, messages: dict):
    from bot.knowledge.entries import KnowledgeBaseError
    from bot.retrieval.engine import load_engine
    from bot.retrieval.index import IndexUnusableError

    try:
        return load_engine(settings)
    except IndexUnusableError as exc:
        raise CliError(messages["index_unusable"].format(reason=exc)) from None
    except KnowledgeBaseError as exc:
        raise CliError(messages["index_unusable"].format(reason=str(exc).splitlines()[0])) from None


def cmd_ask(args, settings: Settings, messages: dict) -> int:
    """The reply the chat gives (the one renderer), plus the confidence for staff."""
    question = check_input(args.question, settings, messages)
    engine = _engine(settings, messages)
    decision = engine.answer(question, topic=args.topic)
    related = {entry.id: entry.question for entry in engine.kb.entries}
    reply = decision_reply(decision, None, related)
    lines = [reply.text]
    if decision.kind == "answer":
        hit = decision.hits[0]
        lines.append(messages["score_line"].format(score=hit.score, matched=hit.matched_text,
                                                    similarity=hit.similarity))
    elif decision.kind == "did_you_mean":
        lines.append(messages["did_you_mean_scores"].format(scores="、".join(
            f"{h.score:.2f}" for h in decision.hits)))
    text = "\n".join(lines)
    print(to_traditional(text) if is_traditional(question) else text)
    return EXIT_OK


def cmd_search(args, settings: Settings, messages: dict) -> int:
    question = check_input(args.question, settings, messages)
    engine = _engine(settings, messages)
    hits = engine.search(question, k=args.k, topic=args.topic)
    print(messages["search_heading"].format(query=engine.prepare(question)))
    if not hits:
        print(messages["search_none"])
        return EXIT_OK
    entries = [h for h in hits if h.kind == "entry"]
    passages = [h for h in hits if h.kind == "passage"]
    if entries:
        print(messages["search_entries"])
        for n, h in enumerate(entries, 1):
            sources = "；".join(f"{c.passage_id}《{c.title}》{format_date(c.published)}"
                               for c in h.citations)
            print(messages["search_entry_item"].format(n=n, score=h.score, similarity=h.similarity, id=h.id,
                                                       question=h.question, sources=sources))
    if passages:
        print(messages["search_passages"])
        for n, h in enumerate(passages, 1):
            p = engine.kb.passages[h.id]
            c = h.citations[0]
            snippet = p.text_simplified.replace("\n", " ")
            snippet = snippet[:80] + ("…" if len(snippet) > 80 else "")
            print(messages["search_passage_item"].format(
                n=n, score=h.score, id=h.id, heading=to_simplified(p.heading), snippet=snippet,
                source=f"{cited_documents(sources_of([c], h.region))}，{c.region}"))
    return EXIT_OK


def _print_kb_error(exc, messages: dict) -> None:
    print(messages["kb_invalid"].format(count=len(exc.errors)), file=sys.stderr)
    for issue in exc.errors:
        print(f"  - {issue}", file=sys.stderr)


def cmd_index(args, settings: Settings, messages: dict) -> int:
    from bot.retrieval.index import build_index
    from bot.knowledge.entries import KnowledgeBaseError

    try:
        report = build_index(out_dir=args.out)
    except KnowledgeBaseError as exc:
        _print_kb_error(exc, messages)
        return EXIT_ERROR
    print(messages["index_built"].format(directory=report.directory))
    print(messages["index_counts"].format(**{k: getattr(report, k) for k in (
        "entries", "questions", "paraphrases", "passages", "vectors", "dimension")}))
    print(messages["index_timing"].format(load=report.load_seconds, encode=report.encode_seconds,
                                          train=report.train_seconds, total=report.total_seconds,
                                          model=report.model_id))
    for w in report.warnings:
        print(f"  ! {w}")
    return EXIT_OK


def cmd_validate(args, settings: Settings, messages: dict) -> int:
    from bot.knowledge.entries import KnowledgeBaseError, load_knowledge_base

    try:
        kb = load_knowledge_base(settings.entries_dir, settings.sources_dir)
    except KnowledgeBaseError as exc:
        _print_kb_error(exc, messages)
        return EXIT_ERROR
    print(messages["kb_valid"].format(entries=len(kb.entries), topics=len({e.topic for e in kb.entries}),
                                      documents=len(kb.documents), passages=len(kb.passages)))
    for w in kb.warnings:
        print(f"  ! {w}")
    return EXIT_OK


def cmd_import(args, settings: Settings, messages: dict) -> int:
    from bot.knowledge.corpus import import_all

    try:
        written = import_all()
    except (OSError, KeyError, ValueError) as exc:
        raise CliError(messages["import_failed"].format(reason=exc)) from None
    print(messages["import_done"].format(count=len(written)))
    for path in written:
        print(f"  {path}")
    return EXIT_OK


def build_parser(messages: dict) -> argparse.ArgumentParser:
    """The argument parser; its help texts come from ``messages.yml`` (``cli``)."""
    texts = messages["cli"]

    def k_value(value: str) -> int:
        k = int(value)
        if not 1 <= k <= 50:
            raise argparse.ArgumentTypeError(messages["k_out_of_range"])
        return k

    parser = argparse.ArgumentParser(prog="python -m bot", description=texts["description"])
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help=texts["ask"])
    ask.add_argument("question", nargs="?", default="")
    ask.add_argument("--topic", default=None, help=texts["topic"])
    ask.set_defaults(func=cmd_ask)
    search = sub.add_parser("search", help=texts["search"])
    search.add_argument("question", nargs="?", default="")
    search.add_argument("-k", type=k_value, default=5)
    search.add_argument("--topic", default=None, help=texts["topic"])
    search.set_defaults(func=cmd_search)
    index = sub.add_parser("index", help=texts["index"])
    index.add_argument("--out", default=None, help=texts["index_out"])
    index.set_defaults(func=cmd_index)
    sub.add_parser("validate", help=texts["validate"]).set_defaults(func=cmd_validate)
    sub.add_parser("import", help=texts["import"]).set_defaults(func=cmd_import)
    return parser


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):
            pass
    settings = load_settings()
    messages = datafiles.cli_texts()
    args = build_parser(messages).parse_args(argv)
    try:
        return args.func(args, settings, messages)
    except CliError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback for users; BOT_DEBUG=1 shows it
        if os.environ.get("BOT_DEBUG"):
            raise
        error = f"{type(exc).__name__}: {exc}"
        print(messages["internal_error"].format(error=error).replace("\n", " "), file=sys.stderr)
        return EXIT_ERROR

