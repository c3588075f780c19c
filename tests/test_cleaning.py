"""The seed cleaner on real snippets of the scraped pages."""

import pytest

from bot.knowledge.cleaning import (CleaningRules, clean_lines, is_heading, remove_inline_pinyin,
                          split_passages)


@pytest.mark.parametrize(("raw", "clean"), [
    ("郵寄費(fèi)用到付", "郵寄費用到付"),
    ("實(shí)時推送", "實時推送"),
    ("廣東人事考試網(wǎng)--“系統(tǒng)”", "廣東人事考試網--“系統”"),
    ("中國郵政速遞物流公司(EMS)寄送", "中國郵政速遞物流公司(EMS)寄送"),
    ("常見問答(2024年版)", "常見問答(2024年版)"),
    ("網站(https://www.ems.com.cn/)查詢", "網站(https://www.ems.com.cn/)查詢"),
    ("(如下表)試點(diǎn)", "(如下表)試點"),
])
def test_inline_pinyin_is_removed_and_other_brackets_kept(raw, clean):
    assert remove_inline_pinyin(raw) == clean


RAW_PAGE = """24小時客服電話:010-82326699
    微信號:jianshe99zb
    掃碼了解并領(lǐng)取資料
    一、證書直郵

    (一)什么是證書直郵?

    證書直郵即證書由印制單位直接通過中國郵政“EMS特快專遞”郵寄給持證人。郵寄費(fèi)用到付。

    監理證書

    1.正常領(lǐng)?。壕W(wǎng)上申請郵寄登記提交成功后,證書將按照網(wǎng)上登記先后順序分批寄出。
    • 免費(fèi)試聽
    枣强县| 大兴区| 衡阳市| 龙州县| 林芝县| 女性|
"""

RULES = CleaningRules(
    start="一、證書直郵", end="免費試聽", repairs={"?。壕W(wǎng)": "取：網"},
    drop_lines=("監理證書",), noise_line_patterns=("掃碼", r"^(?:[^|]{1,8}\|\s*){5,}"),
)


def test_clean_lines_cuts_window_drops_captions_and_repairs_mojibake():
    lines = clean_lines(RAW_PAGE, RULES)
    assert lines[0] == "一、證書直郵"
    assert "監理證書" not in lines
    assert "1.正常領取：網上申請郵寄登記提交成功后,證書將按照網上登記先后順序分批寄出。" in lines
    joined = "\n".join(lines)
    for artefact in ("(fèi)", "掃碼", "客服電話", "免費試聽", "枣强县", "?。"):
        assert artefact not in joined


def test_place_name_spam_is_dropped_even_inside_the_window():
    raw = "一、證書直郵\n枣强县| 大兴区| 衡阳市| 龙州县| 林芝县| 女性|\n正文。\n免費試聽"
    assert clean_lines(raw, RULES) == ["一、證書直郵", "正文。"]


def test_unrepaired_mojibake_fails_loudly():
    raw = "一、證書直郵\n正常領?。壕W上申請\n免費試聽"
    with pytest.raises(ValueError, match="mojibake"):
        clean_lines(raw, CleaningRules(start="一、證書直郵", end="免費試聽"))


def test_missing_markers_fail_loudly():
    with pytest.raises(ValueError, match="start marker"):
        clean_lines("nothing here", RULES)


@pytest.mark.parametrize(("line", "heading"), [
    ("一、證書直郵", True),
    ("(一)什么是證書直郵?", True),
    ("(1) 證書狀態為[已撤銷]是什么意思?", True),
    ("8.申請電子證書加注,需要注意什么?", True),
    ("一.登錄", True),
    ("1.全科成績合格考生可登錄廣東人事考試網提交申請。", False),
    ("(三)未领取的证书,由资格核查部门代为保管,保管期限为自考试结束日起5年。", False),
    ("证书直邮即证书由印制单位直接邮寄给持证人。", False),
])
def test_heading_detection(line, heading):
    assert is_heading(line) is heading


def test_passages_keep_the_section_in_front_of_the_question():
    lines = ["一、證書直郵", "導言。", "(一)什么是證書直郵?", "答案一。", "二、廣州考區", "(一)多久寄出?", "答案二。"]
    passages = split_passages(lines, "標題")
    assert [(p.heading, p.text) for p in passages] == [
        ("一、證書直郵", "導言。"),
        ("一、證書直郵 › (一)什么是證書直郵?", "答案一。"),
        ("二、廣州考區 › (一)多久寄出?", "答案二。"),
    ]


def test_long_sections_are_split_at_paragraph_ends():
    paragraph = "资" * 200 + "。"
    passages = split_passages(["一、资格核查", paragraph, paragraph, paragraph], "标题")
    assert len(passages) == 3
    assert all(p.heading == "一、资格核查" for p in passages)
