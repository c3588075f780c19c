"""bot.lang.noise: the question inside a noisy message."""

import pytest

from bot.lang.noise import core_of


@pytest.mark.parametrize("noisy, core", [
    ("你好，请问一下哈，证书直邮怎么申请？？？", "证书直邮怎么申请？"),
    ("请问证书直邮怎么办理？我电话13912345678", "证书直邮怎么办理？"),
    ("证书直邮怎么办理？我电话139****5678", "证书直邮怎么办理？"),        # as the web masks it
    ("<b>证书</b>怎么下载&nbsp;😀😀", "证书 怎么下载"),
    ("证书丢了 身份证号**************123X", "证书丢了"),
    ("电子证书怎么下载，谢谢", "电子证书怎么下载"),
    ("https://x.cn/a 这个打不开", "这个打不开"),
    ("加注！！！！怎么弄～～～", "加注！怎么弄"),
    ("你好，請問證書怎麼寄？我電話13912345678", "證書怎麼寄？"),          # traditional script too
])
def test_noise_is_removed(noisy, core):
    assert core_of(noisy) == core


@pytest.mark.parametrize("text, core", [
    ("你好", "你好"), ("谢谢", "谢谢"),                       # only a greeting: kept
    ("名单2025年5月9日公示，直邮截止哪天", "名单2025年5月9日公示，直邮截止哪天"),   # dates stay
    ("2024-09-27", "2024-09-27"), ("那邮费呢", "那邮费呢"), ("河南的呢？", "河南的呢？"),
])
def test_what_carries_the_question_stays(text, core):
    assert core_of(text) == core


def test_nothing_but_noise_stays_as_it_was():
    assert core_of("😀😀") == "😀😀" and core_of("") == "" and core_of("   ") == ""


def test_a_long_run_of_one_character_is_typing_noise():
    assert core_of("啊啊啊啊啊啊啊啊啊啊 直邮要多少钱") == "直邮要多少钱"
    assert core_of("电子证书哈哈哈哈哈怎么下载") == "电子证书怎么下载"
    assert core_of("2222年的证书怎么下载") == "2222年的证书怎么下载"   # digits are no noise
