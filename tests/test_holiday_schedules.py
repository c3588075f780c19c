"""Next year's holidays as staff enter them: a 2027 schedule (made up for the test in the
shape of the State Council's notice) makes a Guangdong direct-mail deadline from a list
published on 2026-12-25 count on it and no longer be an estimate; without it, it is."""

from __future__ import annotations

from datetime import date

import pytest

from bot.dialogue import deadlines
from bot.knowledge import editing
from bot.knowledge.edition_updates import save_holidays
from bot.knowledge.editing import ChangeRefused
from bot.lang import holiday_schedules, workdays

D = date
NOTICE = "国务院办公厅关于2027年部分节假日安排的通知（测试用）"
SCHEDULE_2027 = holiday_schedules.parse_lines(
    "2027-01-01 至 2027-01-03 元旦\n2027-02-06 至 2027-02-13 春节\n",
    "2027-02-20 春节\n")


@pytest.fixture()
def holidays_file(tmp_path, monkeypatch):
    path = tmp_path / "holidays.yml"
    monkeypatch.setenv("BOT_HOLIDAYS", str(path))
    return path


def enter(path, year=2027, spec=None, notice=NOTICE):
    change = save_holidays(year, {"notice": notice, **(spec or SCHEDULE_2027)}, path)
    editing.apply(change, "王小明 (editor)", changelog=path.parent / "changes.yml",
                  cases_file=path.parent / "staff.yml")


def test_without_a_2027_schedule_the_deadline_is_an_estimate(holidays_file):
    result = deadlines.direct_mail_deadline(D(2026, 12, 25), today=D(2026, 12, 26))
    assert result.estimate
    # weekends only: 1 January counted as a working day
    assert result.deadline == D(2027, 1, 12)


def test_with_the_2027_schedule_entered_it_is_computed_on_it(holidays_file):
    enter(holidays_file)
    result = deadlines.direct_mail_deadline(D(2026, 12, 25), today=D(2026, 12, 26))
    assert not result.estimate
    # 28–31 Dec are 4, 1–3 Jan New Year's holiday, 4–8 Jan are 5–9, 11–13 Jan 10–12
    assert result.deadline == D(2027, 1, 13)
    assert any(s.kind == workdays.STEP_HOLIDAY and s.names == ("元旦",) for s in result.steps)
    period = workdays.add_workdays(D(2027, 2, 19), 1)
    assert period.end == D(2027, 2, 20) and not period.estimate   # the make-up Saturday
    assert "2027" in holidays_file.read_text(encoding="utf-8")


@pytest.mark.parametrize("spec, notice, words", [
    ({"holidays": [{"name": "元旦", "first": "2028-01-01", "last": "2028-01-01"}], "makeup_workdays": []},
     NOTICE, "不在 2027 年"),
    ({"holidays": [{"name": "春节", "first": "2027-02-06", "last": "2027-02-13"}],
      "makeup_workdays": [{"date": "2027-02-07", "name": "春节"}]}, NOTICE, "既是放假日又是调休上班日"),
    ({"holidays": [{"name": "春节", "first": "2027-02-06", "last": "2027-02-13"}],
      "makeup_workdays": [{"date": "2027-02-17", "name": "春节"}]}, NOTICE, "调休上班日应是周六或周日"),
    (SCHEDULE_2027, " ", "出自哪份通知"),
    ({"holidays": [{"name": "乱写一行"}], "makeup_workdays": []}, NOTICE, "看不懂"),
])
def test_a_schedule_that_makes_no_sense_is_refused_and_not_saved(holidays_file, spec, notice, words):
    with pytest.raises(ChangeRefused) as refused:
        enter(holidays_file, spec=spec, notice=notice)
    assert any(words in problem for problem in refused.value.problems)
    assert not holidays_file.exists()
    assert deadlines.direct_mail_deadline(D(2026, 12, 25), today=D(2026, 12, 26)).estimate


def test_years_the_calendar_covers_stay_its_own(holidays_file):
    with pytest.raises(ChangeRefused, match="日历包"):
        enter(holidays_file, year=2026, spec={"holidays": [{"name": "元旦", "first": "2026-01-05",
                                                            "last": "2026-01-05"}], "makeup_workdays": []})


def test_a_broken_file_is_not_used_in_part(holidays_file):
    holidays_file.write_text("years:\n  2027:\n    notice: x\n    holidays: [{name: 元旦, first: 2027-01-01, "
                             "last: 2027-01-03}]\n    makeup_workdays: [{date: 2027-01-04}]\n", "utf-8")
    assert workdays.day_info(D(2027, 1, 1)).covered is False
