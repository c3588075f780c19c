"""The question window: what the encoder reads of a long message (issue 22)."""

from bot.lang.question_window import WINDOW_CHARS, question_window
from bot.lang.vocabulary import matching_form

STORY = ("老师您好,打扰一下。我是前年在外地参加的考试,那时候工作特别忙,单位又在搞项目,每天加班到很晚,"
         "考完之后就把这件事情完全忘在脑后了。最近单位要评职称,人事那边通知我们把相关材料都准备齐全,"
         "我翻了半天才想起来证书的事,心里特别着急,同事说可以来这里问问,")


def test_a_short_text_is_read_whole():
    text = matching_form("证书直邮到家大概要几天才能收到啊")
    assert question_window(text) == text


def test_a_story_is_read_on_its_question_with_the_end_of_the_clause_before():
    window = question_window(matching_form(STORY + "下好的电子证书打不开怎么办"))
    assert len(window) <= WINDOW_CHARS
    assert window.endswith("下好的电子证书打不开怎么办") and "可以来这里问问" in window
    assert "评职称" not in window


def test_the_last_questions_are_kept_when_the_story_asks_on_the_way():
    # "要做什么" and "会不会有影响" ask in passing; the candidate's question comes last
    text = matching_form("我也没太留意后续要做什么,昨天同事说他已经办好了,我才反应过来,也不知道会不会有影响,"
                         "一直拖着没弄,家里人也催了好几次,我自己也挺着急的,好几年前广州考的证,还给寄吗")
    window = question_window(text)
    assert len(window) <= WINDOW_CHARS and window.endswith("好几年前广州考的证,还给寄吗")


def test_several_questions_that_fit_are_all_kept():
    text = matching_form("老师你好,我在外地工作回不去广东,家里老人身体也不好走不开,证书能不能直接寄到我现在住的地方,"
                         "需要在哪里申请,大概要花多少钱")
    window = question_window(text)
    assert len(window) <= WINDOW_CHARS
    assert all(q in window for q in ("需要在哪里申请", "大概要花多少钱", "证书能不能直接寄到"))


def test_a_long_message_without_commas_is_read_around_its_question_words():
    text = matching_form("哎我跟你说我去年在广州考的中级经济师当时忙着带娃一直没去拿证书现在单位评职称要用原件"
                         "过了领证时间的证书现在还能不能寄给我啊要怎么弄")
    window = question_window(text)
    assert len(window) == WINDOW_CHARS and "还能不能寄给我" in window


def test_a_long_text_without_a_question_is_read_on_its_last_clauses():
    text = matching_form(STORY + "证书的事情想了解一下")
    window = question_window(text)
    assert len(window) <= WINDOW_CHARS and window.endswith("证书的事情想了解一下")


def test_a_story_that_asks_in_passing_is_read_on_its_window_alone():
    from bot.dialogue.clause_reading import question_readings, read_questions
    from bot.dialogue.message import read_message

    message = read_message("我平时主要跑工地，很多通知都是过了好几天才看到的，去年我考了好几门，成绩出来之后也没留意后续要做什么，"
                           "听同组的小王说他已经办好了，我才反应过来自己好像落下了什么，现在有点慌，证书直邮到家大概要几天才能收到")
    asked = [message.clauses[n].text for n in read_questions(message)]
    assert asked == ["证书直邮到家大概要几天才能收到"]   # not each "几" and "什么" of the story
    assert question_window(message.query).endswith("现在有点慌,证书直邮到家大概要几天才能收到")
    assert question_readings(message) == []   # its window is its question with the clause before


def test_a_question_pointing_back_is_read_after_the_story_clause_it_points_at():
    text = ("昨天晚上我按网上的步骤申请了加注,选的本人调用,提交以后页面一直显示证书生成中,"
            "今天刷新了好多次还是这样,单位下午就要,这种情况是正常的吗还是我操作错了")
    window = question_window(text)
    assert "证书生成中" in window and window.endswith("这种情况是正常的吗还是我操作错了")


def test_the_question_asked_in_the_middle_is_read_not_the_passing_ones_after_it():
    text = matching_form("我在深圳这边上班，前阵子考过了一级建造师，证书直邮的邮费是怎么收的，是不是到付啊，"
                         "我家里平时白天没人，老公上夜班，孩子也在上学，也不知道快递员会不会等，唉真麻烦")
    window = question_window(text)
    assert "证书直邮的邮费是怎么收的" in window and "快递员会不会等" not in window
