import pytest

from bot.lang.regions import applies_to, find_place, province_of
from bot.lang.text import normalise


@pytest.mark.parametrize(("text", "name", "province", "covered"), [
    ("河南的呢？", "河南", "河南省", True),
    ("我在廣州考的", "广州", "广东省", True),
    ("郑州市的证书", "郑州市", "河南省", True),
    ("北京考的一建", "北京", "北京", False),
    ("那深圳呢", "深圳", "广东省", True),
])
def test_find_place(text, name, province, covered):
    place = find_place(normalise(text))
    assert (place.name, place.province, place.covered) == (name, province, covered)


def test_no_place():
    assert find_place("电子证书怎么下载") is None
    assert province_of(None) is None


@pytest.mark.parametrize(("rule", "province", "applies"), [
    ("全国", "北京", True),
    ("广东省", None, True),
    ("广东省", "广东省", True),
    ("广东省广州市", "广东省", True),
    ("河南省", "广东省", False),
    ("广东省", "北京", False),
])
def test_applies_to(rule, province, applies):
    assert applies_to(rule, province) is applies
