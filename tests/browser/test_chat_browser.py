"""Real-browser tests: headless Chromium (Debian package) via Playwright's sync API,
against the real web front, Rasa, action server and index (``servers`` fixture).
Expectations come from docs/CONTRACTS.md and the knowledge base, not answer wording.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.knowledge.entries import load_knowledge_base

pytestmark = pytest.mark.browser

FAQ_QUESTION = "什么是证书直邮？"


def send(page: Any, text: str) -> None:
    composer = page.locator("textarea.chat-input")
    composer.fill(text)
    composer.press("Enter")


def bot_rows(page: Any) -> Any:
    return page.locator('.chat-row[data-role="bot"]')


def wait_for_bot_count(page: Any, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('.chat-row[data-role=\"bot\"]').length >= n && !document.querySelector('.chat-typing')",
        arg=count,
    )


def open_chat(page: Any, web_front_url: str) -> None:
    page.goto(web_front_url + "/")
    page.wait_for_selector('.chat-list[data-loaded="true"]')


def test_question_gets_an_answer_with_its_source(page: Any, web_front_url: str, screenshot: Any) -> None:
    open_chat(page, web_front_url)
    assert bot_rows(page).count() == 1  # the welcome bubble
    send(page, FAQ_QUESTION)
    user_bubble = page.locator('.chat-row[data-role="user"] .Bubble').last
    assert user_bubble.inner_text().strip() == FAQ_QUESTION
    colour = user_bubble.evaluate("element => getComputedStyle(element).backgroundColor")
    assert colour == "rgb(149, 236, 105)"  # #95EC69
    wait_for_bot_count(page, 2)
    answer = bot_rows(page).nth(1)
    assert answer.locator(".msg-text").inner_text().strip()
    assert answer.get_attribute("data-kind") == "faq_answer"
    source = answer.locator(".msg-source").first
    assert source.is_visible()
    assert " · " in source.inner_text()
    title = source.locator(".msg-source-text").inner_text().split(" · ")[0]
    assert answer.inner_text().count(title) == 1, "each source is shown once, under the answer"
    assert answer.locator(".msg-region").count() == 1
    assert page.locator(".chat-time").count() >= 1
    for link in answer.locator("a").all():
        assert re.match(r"https?://", link.get_attribute("href"))
        assert "noopener" in link.get_attribute("rel")
    screenshot("chat-answer-with-source-mobile")


def test_typing_indicator_then_quick_reply(page: Any, web_front_url: str, screenshot: Any) -> None:
    open_chat(page, web_front_url)
    chips = page.locator(".chat-quick-replies .QuickReply")
    assert chips.count() >= 1  # suggestions under the welcome bubble
    page.evaluate(
        """() => new MutationObserver((changes, observer) => {
            if (document.querySelector('.chat-typing')) { window.sawTyping = true; observer.disconnect(); }
        }).observe(document.body, {childList: true, subtree: true})"""
    )
    send(page, FAQ_QUESTION)
    wait_for_bot_count(page, 2)
    assert page.evaluate("window.sawTyping === true"), "typing dots while the assistant works"
    answer = bot_rows(page).nth(1)
    assert answer.get_attribute("data-kind") == "faq_answer"
    knowledge_base = load_knowledge_base()
    answered = next(entry for entry in knowledge_base.entries if entry.question == FAQ_QUESTION)
    related = [knowledge_base.entry(entry_id).question for entry_id in answered.related]
    assert related, "the answered entry offers follow-up questions"
    chip_texts = [chip.inner_text().strip() for chip in chips.all()]
    shown = min(len(chip_texts), len(related))
    assert shown and chip_texts[:shown] == related[:shown]  # its related questions come first
    chip_text = chips.first.inner_text().strip()
    chips.first.click()
    wait_for_bot_count(page, 3)
    assert page.locator('.chat-row[data-role="user"] .Bubble').last.inner_text().strip() == chip_text
    assert bot_rows(page).nth(2).get_attribute("data-kind") == "faq_answer"  # a canonical question is answered
    screenshot("chat-after-quick-reply")


def test_history_survives_reload(page: Any, web_front_url: str, screenshot: Any) -> None:
    open_chat(page, web_front_url)
    send(page, FAQ_QUESTION)
    wait_for_bot_count(page, 2)
    session_before = page.evaluate("localStorage.getItem('certificate-faq-session-id')")
    page.reload()
    page.wait_for_selector('.chat-list[data-loaded="true"]')
    assert page.evaluate("localStorage.getItem('certificate-faq-session-id')") == session_before
    users = page.locator('.chat-row[data-role="user"] .Bubble')
    assert users.count() == 1 and users.first.inner_text().strip() == FAQ_QUESTION
    assert bot_rows(page).count() >= 1
    assert bot_rows(page).first.locator(".msg-source").count() >= 1  # sources rebuilt from the tracker
    screenshot("chat-history-after-reload")


def test_enter_while_composing_with_an_ime_does_not_send(page: Any, web_front_url: str) -> None:
    open_chat(page, web_front_url)
    composer = page.locator("textarea.chat-input")
    composer.fill("zhengshu")
    composer.evaluate(
        """element => {
            element.focus();
            element.dispatchEvent(new CompositionEvent('compositionstart', {bubbles: true, data: ''}));
            element.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', keyCode: 229,
                                                                 isComposing: true, bubbles: true, cancelable: true}));
            element.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', keyCode: 13,
                                                                 isComposing: true, bubbles: true, cancelable: true}));
            element.dispatchEvent(new CompositionEvent('compositionend', {bubbles: true, data: '证书'}));
        }"""
    )
    page.wait_for_timeout(400)
    assert page.locator('.chat-row[data-role="user"]').count() == 0
    assert composer.input_value() == "zhengshu"
    composer.fill("证书直邮是什么")
    composer.press("Enter")  # after the composition ended Enter sends
    page.wait_for_selector('.chat-row[data-role="user"]')
    assert composer.input_value() == ""


def test_script_message_is_shown_as_text(page: Any, web_front_url: str, screenshot: Any) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_chat(page, web_front_url)
    attack = "<script>alert('xss')</script><img src=x onerror=\"alert('img')\">"
    send(page, attack)
    wait_for_bot_count(page, 2)
    user_bubble = page.locator('.chat-row[data-role="user"] .Bubble').last
    assert user_bubble.inner_text().strip() == attack
    assert page.locator(".chat-list script, .chat-list img[src='x']").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []
    user_bubble.evaluate("element => element.scrollIntoView({block: 'center'})")  # the attack in the picture
    screenshot("chat-script-shown-as-text")


def test_oversized_and_rasa_messages_surface_as_notices(page: Any, web_front_url: str) -> None:
    open_chat(page, web_front_url)
    page.locator("textarea.chat-input").fill("证" * 1000)
    assert page.locator(".chat-counter").inner_text().strip() == "0"


def test_desktop_layout_and_embed(browser: Any, web_front_url: str, screenshot_directory: Any) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    desktop = context.new_page()
    desktop.set_default_timeout(90_000)
    desktop.goto(web_front_url + "/embed-demo")
    button = desktop.locator('[data-faq-embed="button"]')
    button.click()
    frame_element = desktop.locator('iframe[data-faq-embed="frame"]')
    frame_element.wait_for()
    frame = desktop.frame_locator('iframe[data-faq-embed="frame"]')
    frame.locator('.chat-list[data-loaded="true"]').wait_for()
    frame.locator("textarea.chat-input").fill(FAQ_QUESTION)
    frame.locator("textarea.chat-input").press("Enter")
    frame.locator('.chat-row[data-role="bot"]').nth(1).wait_for()
    desktop.screenshot(path=str(screenshot_directory / "embed-demo-panel-open-desktop.png"))
    desktop.goto(web_front_url + "/")
    desktop.locator('.chat-list[data-loaded="true"]').wait_for()
    desktop.screenshot(path=str(screenshot_directory / "chat-desktop.png"))
    context.close()


def test_staff_page_redirects_to_login_then_search_shows_hits(
    page: Any, web_front_url: str, screenshot: Any, staff_password: str
) -> None:
    page.goto(web_front_url + "/staff")
    assert "/staff/login" in page.url
    screenshot("staff-login")
    page.fill('input[name="password"]', "wrong-password")
    page.click('button[type="submit"]')
    assert page.locator(".error").is_visible()
    page.fill('input[name="password"]', staff_password)
    page.click('button[type="submit"]')
    page.wait_for_url(re.compile(r".*/staff$"))
    page.fill('input[name="q"]', "证书直邮是什么")
    page.press('input[name="q"]', "Enter")
    page.wait_for_selector(".hit")
    assert page.locator(".hit").count() >= 1
    assert page.locator(".hit .score").first.inner_text().strip()
    assert page.locator(".hit .citations li").count() >= 1
    page.set_viewport_size({"width": 1100, "height": 900})
    screenshot("staff-search-hits")


def test_a_thumbs_down_with_a_reason_shows_as_given_after_reload(page: Any, web_front_url: str, servers: Any,
                                                                  screenshot: Any) -> None:
    from bot.datafiles import ui_texts
    from bot.web.storage.store import ConsoleStore

    texts = widget = ui_texts()["chat"]["feedback"]
    open_chat(page, web_front_url)
    assert page.locator(".msg-feedback").count() == 0, "nothing to rate in the welcome"
    send(page, FAQ_QUESTION)
    wait_for_bot_count(page, 2)
    answer = bot_rows(page).nth(1)
    assert answer.locator(".msg-feedback").count() == 1
    answer.get_by_role("button", name=widget["down_label"]).click()
    answer.get_by_role("radio", name=texts["reasons"]["off_topic"]).click()
    assert answer.get_by_role("radio", name=texts["reasons"]["off_topic"]).get_attribute("aria-checked") == "true"
    answer.get_by_role("textbox", name=widget["comment_label"]).fill("我想问的是邮费，手机13812345678")
    answer.get_by_role("button", name=widget["submit"]).click()
    page.wait_for_selector(f'.feedback-notice:has-text("{widget["thanks"]}")')
    screenshot("chat-thumbs-down-given")
    session = page.evaluate("localStorage.getItem('certificate-faq-session-id')")
    stored = ConsoleStore(servers.tracker_db_url).ratings_of(session)
    assert {turn: (r.rating, r.reason, r.comment) for turn, r in stored.items()} == {
        1: ("down", "off_topic", "我想问的是邮费，手机138****5678")}

    page.reload()
    page.wait_for_selector('.chat-list[data-loaded="true"]')
    answer = bot_rows(page).first  # from the history: the welcome is not shown again
    given = answer.get_by_role("button", name=widget["down_given"])
    assert given.get_attribute("aria-pressed") == "true"
    assert answer.get_by_role("button", name=widget["up_label"]).get_attribute("aria-pressed") == "false"
    assert answer.locator(".feedback-reason-given").inner_text().strip() == texts["reasons"]["off_topic"]
    screenshot("chat-thumbs-down-after-reload")
