"""bot.lang.vocabulary: candidates' words in the documents' words, and the matching form."""

import pytest

from bot.lang.vocabulary import canonical, dictionary_words, matching_form


@pytest.mark.parametrize("colloquial, documents", [
    ("寄证书收费不", "寄证书收费吗"),
    ("邮寄证书的运费是收件时付吗", "邮寄证书的邮费是签收时付吗"),
    ("咋弄", "怎么办理"),
    ("还能再发一本吗", "还能补发吗"),
    ("电子证书在哪下在", "电子证书在哪下载"),
    ("电子证丢了", "电子证书丢了"),
    ("电子证书丢了", "电子证书丢了"),           # the documents' word is left alone
])
def test_candidates_words_become_the_documents(colloquial, documents):
    assert canonical(colloquial) == documents


def test_the_matching_form_takes_noise_script_and_words_together():
    assert matching_form("你好，請問證書郵寄運費多少？我電話13912345678") == "证书邮寄邮费多少?"
    assert matching_form(matching_form("寄证书收费不")) == matching_form("寄证书收费不")


def test_every_word_reaches_jiebas_dictionary():
    words = dictionary_words()
    assert {"运费", "邮费", "下载", "收费不"} <= set(words) and all(len(w) > 1 for w in words)
