"""Masking of ID-card and mobile numbers (bot/lang/privacy.py)."""

import pytest

from bot.knowledge.entries import load_entries
from bot.lang.privacy import contains_sensitive, mask_sensitive, published_numbers


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("我的身份证号是440106199001011234", "我的身份证号是**************1234"),
        ("身份证 44010619900101123X 查不到", "身份证 **************123X 查不到"),
        ("尾号小写 44010619900101123x", "尾号小写 **************123x"),
        ("老身份证440106900101123", "老身份证***********1123"),
        ("电话13812345678谢谢", "电话138****5678谢谢"),
        ("电话 138 1234 5678", "电话 138****5678"),
        ("电话 138-1234-5678。", "电话 138****5678。"),
        ("+86 13912345678", "+86 139****5678"),
        ("全角１３８１２３４５６７８", "全角１３８****５６７８"),
    ],
)
def test_masks_numbers(raw: str, masked: str) -> None:
    assert mask_sensitive(raw) == masked
    assert contains_sensitive(raw)


@pytest.mark.parametrize(
    "text",
    [
        "证书编号 0123456789",  # 10 digits
        "12345678901",  # 11 digits but not a mobile prefix (12…)
        "订单号 1381234567890123456789",  # a long digit run is not an ID or a mobile
        "2025年8月6日发布，邮费 20 元",
        "",
    ],
)
def test_leaves_other_text_alone(text: str) -> None:
    assert mask_sensitive(text) == text
    assert not contains_sensitive(text)


def test_masks_several_numbers_in_one_text() -> None:
    text = "身份证440106199001011234，手机13812345678，备用15987654321"
    masked = mask_sensitive(text)
    assert "440106199001011234" not in masked and "13812345678" not in masked and "15987654321" not in masked
    assert masked == "身份证**************1234，手机138****5678，备用159****4321"


def test_masking_is_idempotent() -> None:
    once = mask_sensitive("440106199001011234 / 13812345678")
    assert mask_sensitive(once) == once


def test_published_help_lines_are_not_masked() -> None:
    published = sorted(published_numbers())
    assert published, "data/faq/contacts.yml publishes at least one mobile-style hotline"
    text = f"客服电话：{published[0]}，我的手机13812345678"
    assert mask_sensitive(text) == f"客服电话：{published[0]}，我的手机138****5678"


def test_every_number_in_the_faq_answers_is_a_published_one() -> None:
    """Otherwise the web chat would show that answer's number masked."""
    for entry in load_entries():
        assert mask_sensitive(entry.answer) == entry.answer, entry.id
