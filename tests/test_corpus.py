"""The committed cleaned documents: provenance, ids, and that they re-build from the seeds."""

import re
from datetime import date

import pytest

from bot.knowledge.corpus import DEFAULT_SEEDS_DIR, SOURCES_DIR, import_all, load_documents


@pytest.fixture(scope="module")
def documents():
    return load_documents()


def test_five_documents_with_provenance(documents):
    assert set(documents) == {"gz-mail-faq-2024", "gz-mail-faq-2025", "henan-check-issuance-2024",
                              "cpta-ecert-faq-2023", "cpta-ecert-download-2022"}
    for document in documents.values():
        assert document.title and document.issuer and document.region
        assert document.passages
    assert documents["gz-mail-faq-2025"].published == date(2025, 8, 6)
    assert documents["henan-check-issuance-2024"].edition == "豫人社函〔2024〕25号"


def test_passage_ids_are_stable_and_unique(documents):
    ids = [p.id for d in documents.values() for p in d.passages]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z0-9-]+/p\d{2}", i) for i in ids)


def test_no_scraping_artefacts_left(documents):
    text = "\n".join(p.text for d in documents.values() for p in d.passages)
    for artefact in ("(fèi)", "(shí)", "掃碼", "扫码", "學霸君加入", "枣强县", "APP下載", "\ufffd",
                     "?。", "link.233.com/28357", "免費下載"):
        assert artefact not in text, artefact


def test_key_facts_survive_cleaning(documents):
    text = "\n".join(p.text_simplified for d in documents.values() for p in d.passages)
    for fact in ("12个工作日", "0591-87571350", "0591-83611183", "保管期限为自考试结束日起5年",
                 "90日内同一证书可存在3次有效加注", "生僻字输入", "2016年度以前", "每月20日前审核"):
        assert fact in text, fact


def test_simplified_form_is_simplified(documents):
    passage = documents["gz-mail-faq-2025"].passages[2]
    assert "證書" in passage.text and "证书" in passage.text_simplified


@pytest.mark.skipif(not DEFAULT_SEEDS_DIR.exists(), reason="raw seeds (../shared/seeds) not present")
def test_import_is_reproducible_from_the_raw_seeds(tmp_path):
    for written in import_all(out_dir=tmp_path):
        committed = SOURCES_DIR / written.name
        assert written.read_text(encoding="utf-8") == committed.read_text(encoding="utf-8"), written.name
