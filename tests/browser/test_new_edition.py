"""A new edition in a real browser, as staff bring it in, on a project of its own whose
knowledge base is as it was before the 2025 Guangdong mailing FAQ (tests/test_editions.py's
KnowledgeBefore2025, applied to the copy, its index rebuilt): staff upload a PDF made here
from the 2025 page (previewed only), then the page saved from the browser; the preview
names the 2024 edition it replaces and the changed landline; saved, the comparison lists
the landline entry, which staff update with the proposed answer; the publish serves it
without retraining Rasa while candidates chat; a candidate asking for the landline gets
the 2025 number with the 2025 citation. Then next year's holidays are entered."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.browser.test_staff_loop import ask_in_a_new_chat, publish, staff_page
from tests.conftest import SERVERS_TODAY, TEST_STAFF_PASSWORD
from tests.test_editions import NEW, OLD, PROVENANCE, KnowledgeBefore2025
from tests.test_web_import import article_lines, pdf_of, saved_page
from tests.test_web_publish import ChatTraffic, CopiedProject

pytestmark = [pytest.mark.browser, pytest.mark.servers, pytest.mark.slow]

QUESTION = "直邮出问题打邮政哪个客服电话？"
TRAFFIC = ("什么是证书直邮？", "电子证书怎么下载", "证书丢了怎么补办")


class _Env:
    """KnowledgeBefore2025 sets these for the test process; here they only name the copy."""

    def setenv(self, name: str, value: str) -> None:
        pass


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CopiedProject]:
    copied = CopiedProject.create(tmp_path_factory.mktemp("new-edition"))
    faq = copied.root / "data" / "faq"
    before = KnowledgeBefore2025(copied.root / "before", _Env())
    for name in ("sources", "entries"):
        for path in (faq / name).glob("*.yml"):
            path.unlink()
        for path in getattr(before, name).glob("*.yml"):
            (faq / name / path.name).write_bytes(path.read_bytes())
    copied.python("from bot.retrieval.index import build_index; build_index()")
    copied.start({"STAFF_PASSWORD": TEST_STAFF_PASSWORD, "SECRET_KEY": "test-secret-key-not-for-production",
                  "WEB_ENV_FILE": str(copied.root / "absent.env"), "ASSISTANT_TODAY": SERVERS_TODAY})
    yield copied
    copied.stop()


def fill_provenance(page: Any) -> None:
    for name, value in (("id", NEW), ("title", PROVENANCE.title), ("issuer", PROVENANCE.issuer),
                        ("region", PROVENANCE.region), ("published", "2025-08-06"), ("edition", "2025版")):
        page.fill(f'#import-form input[name="{name}"]', value)


def test_staff_import_the_2025_edition_and_candidates_get_its_landline(browser: Any, project: CopiedProject,
                                                                       tmp_path: Path,
                                                                       screenshot_directory: Path) -> None:
    chat = ask_in_a_new_chat(browser, project.web_url, QUESTION)
    assert "0591-83611183" in chat.locator('.chat-row[data-role="bot"]').nth(1).inner_text()
    chat.context.close()

    staff = staff_page(browser, project.web_url)
    pdf, page = tmp_path / "问答2025版.pdf", tmp_path / "问答2025版.html"
    pdf.write_bytes(pdf_of(article_lines()))
    page.write_bytes(saved_page())

    staff.goto(project.web_url + "/staff/import")
    fill_provenance(staff)
    staff.set_input_files('#import-form input[name="file"]', str(pdf))
    staff.click("#preview-button")
    staff.wait_for_selector("[data-preview]")
    assert staff.locator("[data-passage]").count() == 12
    assert staff.get_attribute("[data-preview] [data-old]", "data-old") == OLD

    fill_provenance(staff)
    staff.set_input_files('#import-form input[name="file"]', str(page))
    staff.click("#preview-button")
    staff.wait_for_selector("[data-preview]")
    assert "0591-83611183" in staff.locator('[data-fact-kind="phone"]').first.inner_text()
    assert not (project.root / "data" / "faq" / "sources" / f"{NEW}.yml").exists(), "a preview saves nothing"
    staff.screenshot(path=str(screenshot_directory / "staff-import-preview.png"), full_page=True)
    staff.click("#save-button")
    staff.wait_for_url(f"**/staff/editions/{NEW}?old={OLD}")
    hotline = staff.locator('article[data-entry="ems_hotline"]')
    assert "2025版起，0591-83611183改为0591-87571350" in hotline.locator('textarea[name="answer"]').input_value()
    assert staff.locator('tr[data-kind="changed"] del', has_text="83611183").count() == 1
    staff.screenshot(path=str(screenshot_directory / "staff-edition-compare.png"), full_page=True)
    hotline.locator('button[value="update"]').click()
    staff.wait_for_selector("[data-saved]")
    assert staff.locator('article[data-entry="ems_hotline"]').count() == 0

    traffic = ChatTraffic(project.web_url, project.rasa_url, TRAFFIC).start()
    try:
        outcome = publish(staff, project.web_url)
    finally:
        traffic.stop()
    stages = {row.get_attribute("data-stage"): row.get_attribute("data-state") for row in staff.locator("li.stage").all()}
    print(f"\npublish stages: {stages}; chat: {traffic.sent} sent, {len(traffic.lost)} lost")
    staff.screenshot(path=str(screenshot_directory / "staff-edition-published.png"), full_page=True)
    assert outcome == "published", staff.locator("#publish-status").inner_text()
    assert stages["train"] == "skipped" and stages["deploy_index"] == "done"
    assert traffic.lost == []

    chat = ask_in_a_new_chat(browser, project.web_url, QUESTION)
    answer = chat.locator('.chat-row[data-role="bot"]').nth(1)
    assert "0591-87571350" in answer.locator(".msg-text").inner_text()
    assert PROVENANCE.title in answer.locator(".msg-source").first.inner_text()
    chat.screenshot(path=str(screenshot_directory / "chat-2025-landline.png"))
    chat.context.close()

    staff.goto(project.web_url + "/staff/holidays")
    staff.fill('input[name="year"]', "2027")
    staff.fill('input[name="notice"]', "国务院办公厅关于2027年部分节假日安排的通知（测试用）")
    staff.fill('textarea[name="holidays"]', "2027-01-01 至 2027-01-03 元旦")
    staff.click("#holidays-save")
    staff.wait_for_selector('[data-year="2027"]')
    assert "2027" in (project.root / "data" / "holidays.yml").read_text(encoding="utf-8")
