"""The 公众号 and 企业微信 channels (rasa_server/wechat.py, wecom.py) against the real
servers, driven by the WeChat server simulator (tests/wechat_simulator.py), in plaintext
and secure mode; the crypto against the sample of WeChat's own documentation."""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid

import pytest

from bot.rasa_client import RasaClient
from rasa_server.wechat_crypto import MessageCipher
from tests.conftest import WECHAT_TEST_ENV
from tests.wechat_simulator import PLATFORM_ERROR, Aes, WeChatServer, sign

# WeChat's sample (WXBizMsgCryptTest of the official SDK): key, AppID, the random
# prefix and the encrypted text it must give.
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APP_ID = "wxb11529c136998cb6"
SAMPLE_RANDOM = b"aaaabbbbccccdddd"
SAMPLE_TEXT = "我是中文abcd123"
SAMPLE_ENCRYPTED = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="


def test_the_channel_crypto_gives_wechats_sample():
    cipher = MessageCipher(SAMPLE_KEY, SAMPLE_APP_ID)
    assert cipher.encrypt(SAMPLE_TEXT.encode(), SAMPLE_RANDOM) == SAMPLE_ENCRYPTED
    assert cipher.decrypt(SAMPLE_ENCRYPTED).decode() == SAMPLE_TEXT


def test_the_simulator_crypto_gives_wechats_sample():
    aes = Aes(SAMPLE_KEY, SAMPLE_APP_ID)
    assert aes.encrypt(SAMPLE_TEXT.encode(), SAMPLE_RANDOM) == SAMPLE_ENCRYPTED
    assert aes.decrypt(SAMPLE_ENCRYPTED).decode() == SAMPLE_TEXT


# ---------------------------------------------------------------- against the servers

def official_account(rasa_url: str, secure: bool) -> WeChatServer:
    env = WECHAT_TEST_ENV
    return WeChatServer(f"{rasa_url}/webhooks/wechat/webhook", env["WECHAT_TOKEN"],
                        env["WECHAT_APP_ID"], env["WECHAT_ENCODING_AES_KEY"], secure=secure)


def wecom_application(rasa_url: str) -> WeChatServer:
    env = WECHAT_TEST_ENV
    return WeChatServer(f"{rasa_url}/webhooks/wecom/webhook", env["WECOM_TOKEN"],
                        env["WECOM_APP_ID"], env["WECOM_ENCODING_AES_KEY"], account="ww-corp",
                        wecom=True)


def new_openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


def user_events(rasa_url: str, sender: str) -> list[dict]:
    with RasaClient(rasa_url) as rasa:
        return [e for e in rasa.tracker(sender)["events"] if e["event"] == "user"]


@pytest.mark.servers
@pytest.mark.parametrize("wecom", [False, True], ids=["official-account", "wecom"])
def test_the_url_check_echoes_only_a_signed_request(rasa_url, wecom):
    server = wecom_application(rasa_url) if wecom else official_account(rasa_url, False)
    assert server.url_check("echo-1234567") == (200, "echo-1234567")
    status, _ = server.url_check("echo-1234567", token="forged-token")
    assert status == 403


@pytest.mark.servers
@pytest.mark.parametrize("mode", ["plaintext", "secure", "wecom"])
def test_a_conversation(rasa_url, mode):
    server = wecom_application(rasa_url) if mode == "wecom" else official_account(
        rasa_url, secure=mode == "secure")
    openid = new_openid()
    sender = ("wecom-" if mode == "wecom" else "wx-") + openid

    def say(xml: str) -> str | None:
        delivery = server.deliver(xml, openid)
        assert not delivery.platform_error and delivery.tries == 1, delivery
        return delivery.reply

    welcome = say(server.message(openid, "event", Event="subscribe"))
    assert "您好" in welcome and "1. 证书直邮怎么申请？" in welcome
    answer = say(server.text(openid, "1"))               # the first option, by its number
    assert "来源：" in answer and "《" in answer and "回复数字" in answer
    follow_up = say(server.text(openid, "要多少钱"))
    assert follow_up and follow_up != answer
    ask_date = say(server.text(openid, "我的直邮申请截止日是哪天"))
    assert "全科合格人员名单公示日期" in ask_date
    deadline = say(server.text(openid, "2024年9月27日"))
    assert "2024年10月18日" in deadline
    voice = say(server.message(openid, "voice", MediaId="m1", Format="amr",
                               Recognition="电子证书在哪里下载"))
    assert "来源：" in voice
    unrecognised = say(server.message(openid, "voice", MediaId="m2", Format="amr"))
    assert "打字" in unrecognised
    for kind, fields in (("image", {"PicUrl": "http://x/p.jpg", "MediaId": "m3"}),
                         ("location", {"Location_X": "23.1", "Location_Y": "113.2", "Scale": "20",
                                       "Label": "广州"}),
                         ("link", {"Title": "t", "Description": "d", "Url": "http://x"})):
        assert "打字" in say(server.message(openid, kind, **fields))
    assert say(server.message(openid, "event", Event="unsubscribe")) is None
    texts = [e["text"] for e in user_events(rasa_url, sender)]
    assert texts == ["/greet", "证书直邮怎么申请？", "要多少钱", "我的直邮申请截止日是哪天",
                     "2024年9月27日", "电子证书在哪里下载"]


# ---------------------------------------------------------------- refusals

REFUSED_XML = {
    "malformed": b"<xml><ToUserName>",
    "huge": b"<xml><Content><![CDATA[" + b"a" * 100_000 + b"]]></Content></xml>",
    "external entity": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                        b"<xml><ToUserName>a</ToUserName><FromUserName>o1</FromUserName>"
                        b"<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&e;</Content>"
                        b"<MsgId>1</MsgId></xml>"),
    "billion laughs": (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
                       b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><Content>&b;</Content></xml>'),
}


@pytest.mark.servers
@pytest.mark.parametrize("name", list(REFUSED_XML))
def test_bad_xml_is_refused(rasa_url, name):
    server = official_account(rasa_url, secure=False)
    query, _ = server.request("<xml/>")
    status, _ = server.post(query, REFUSED_XML[name])
    assert status == (413 if name == "huge" else 400)
    assert still_answers(rasa_url)


@pytest.mark.servers
@pytest.mark.parametrize("secure", [False, True], ids=["plaintext", "secure"])
def test_forged_replayed_and_wrongly_encrypted_messages_are_refused_and_not_stored(rasa_url, secure):
    server = official_account(rasa_url, secure)
    openid = new_openid()
    xml = server.text(openid, "证书直邮怎么申请？")
    refused = {
        "forged": server.request(xml, token="not-our-token"),
        "replayed": server.request(xml, timestamp=str(int(time.time()) - 3600)),
    }
    if secure:
        refused["wrong key"] = server.request(xml, aes=Aes("Z" * 43, WECHAT_TEST_ENV["WECHAT_APP_ID"]))
        refused["other app"] = server.request(xml, aes=Aes(WECHAT_TEST_ENV["WECHAT_ENCODING_AES_KEY"],
                                                           "wx-someone-else"))
    for name, (query, body) in refused.items():
        status, _ = server.post(query, body)
        assert status == (400 if name in ("wrong key", "other app") else 403), name
    assert user_events(rasa_url, "wx-" + openid) == []
    assert still_answers(rasa_url)


def still_answers(rasa_url: str) -> bool:
    server = official_account(rasa_url, secure=True)
    openid = new_openid()
    delivery = server.deliver(server.text(openid, "电子证书在哪里下载？"), openid)
    return delivery.reply is not None and "来源" in delivery.reply


# ---------------------------------------------------------------- the five seconds

def action_server_pids(servers) -> list[int]:
    programs = ["actions1", "actions2"] if servers.cluster else ["actions"]
    return [pid for pid in (servers.supervisor.pid(p) for p in programs) if pid]


@pytest.mark.servers
def test_a_turn_slower_than_five_seconds_is_answered_once_on_a_retry(servers, rasa_url):
    server = official_account(rasa_url, secure=True)
    openid = new_openid()
    pids = action_server_pids(servers)
    xml = server.text(openid, "证书直邮怎么申请？")
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    resume = threading.Timer(6.0, lambda: [os.kill(pid, signal.SIGCONT) for pid in pids])
    resume.start()
    try:
        delivery = server.deliver(xml, openid)
    finally:
        resume.join()
    assert delivery.tries == 2 and not delivery.platform_error, delivery
    assert PLATFORM_ERROR not in (delivery.reply or "") and "来源：" in delivery.reply
    users = user_events(rasa_url, "wx-" + openid)
    assert len(users) == 1


@pytest.mark.servers
def test_a_retry_of_an_answered_message_gets_the_same_reply_and_runs_nothing(rasa_url):
    server = official_account(rasa_url, secure=False)
    openid = new_openid()
    xml = server.text(openid, "证书直邮怎么申请？")
    first = server.deliver(xml, openid)
    again = server.deliver(xml, openid)          # the same MsgId: WeChat's retry
    assert first.reply == again.reply and "来源：" in first.reply
    assert len(user_events(rasa_url, "wx-" + openid)) == 1


def test_signatures_are_sha1_of_the_sorted_parts():
    assert sign("b", "a") == sign("a", "b")


# ---------------------------------------------------------------- many users

LOAD_QUESTIONS = ["证书直邮怎么申请？", "邮费多少钱", "电子证书在哪里下载", "怎么查物流",
                  "证书丢了能补发吗", "什么是电子证书加注", "名字是生僻字怎么办", "好的",
                  "河南考后资格核查要带什么", "证书没领会保管多久"]
LOAD_USERS = 16
LOAD_MESSAGES = 200


@pytest.mark.servers
def test_200_messages_from_16_users_with_retries_are_each_stored_once_and_answered(rasa_url):
    """Every third message's first reply is lost on the way (WeChat tries again after
    its five seconds): every message is answered, none is stored twice or lost, no
    platform error."""
    server = official_account(rasa_url, secure=True)
    openids = [new_openid() for _ in range(LOAD_USERS)]
    sent: dict[str, list[str]] = {openid: [] for openid in openids}
    deliveries = []
    lock = threading.Lock()

    def user(n: int) -> None:
        openid = openids[n]
        for k in range(n, LOAD_MESSAGES, LOAD_USERS):
            msg_id = server.next_msg_id()
            xml = server.text(openid, LOAD_QUESTIONS[k % len(LOAD_QUESTIONS)], MsgId=msg_id)
            delivery = server.deliver(xml, openid, lost_tries=1 if k % 3 == 0 else 0)
            with lock:
                sent[openid].append("wx-" + msg_id)
                deliveries.append(delivery)

    threads = [threading.Thread(target=user, args=(n,)) for n in range(LOAD_USERS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert len(deliveries) == LOAD_MESSAGES
    assert [d for d in deliveries if d.platform_error or not d.reply] == []
    assert sum(d.tries > 1 for d in deliveries) >= LOAD_MESSAGES // 3
    stored = {openid: [u["message_id"] for u in user_events(rasa_url, "wx-" + openid)]
              for openid in openids}
    for openid in openids:
        assert stored[openid] == sent[openid]        # each once, in order: 0 lost, 0 doubled
    print(f"{LOAD_MESSAGES} messages, {LOAD_USERS} users: {elapsed:.1f} s, "
          f"{sum(d.tries for d in deliveries)} tries")


# ---------------------------------------------------------------- fuzz

def well_formed(xml: bytes) -> bool:
    import xml.etree.ElementTree as ET

    try:
        ET.fromstring(xml)
    except ET.ParseError:
        return False
    return True


@pytest.mark.servers
def test_generated_requests_never_get_a_server_error(rasa_url):
    """Signed requests with generated bodies (bytes, broken XML, any Content, any
    MsgType): never a 5xx; a text message with words always gets a reply."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from bot.quality.soak.fuzz import CRAFTED, answerable

    server = official_account(rasa_url, secure=False)
    problems = []
    contents = st.one_of(st.sampled_from([c for c in CRAFTED if "\ud800" not in c and "\udfff" not in c]),
                         st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]),
                                 max_size=120))

    @settings(max_examples=60, database=None, derandomize=True, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(["text", "text", "voice", "image", "event", "", "文本"]),
           content=contents, garbage=st.one_of(st.none(), st.binary(max_size=200)))
    def check(kind: str, content: str, garbage: bytes | None) -> None:
        openid = new_openid()
        fields = {"Content": content} if kind == "text" else {"Recognition": content}
        xml = server.message(openid, kind, **fields).encode("utf-8", "surrogatepass")
        query, _ = server.request("<xml/>")
        status, body = server.post(query, garbage if garbage is not None else xml, timeout=30)
        if status >= 500:
            problems.append((status, kind, content, garbage))
        elif garbage is None and not well_formed(xml):   # control characters: not XML 1.0
            if status != 400:
                problems.append((status, kind, content, body[:200]))
        elif garbage is None and kind == "text" and answerable(content) and (
                status != 200 or server.read_reply(body, openid) is None):
            problems.append((status, kind, content, body[:200]))

    check()
    assert problems == []
    assert still_answers(rasa_url)


@pytest.mark.servers
def test_a_retry_landing_on_the_other_rasa_instance_is_answered_from_the_first_ones_turn(servers):
    """Cluster only: WeChat's first try reaches rasa1 and times out while the turn runs;
    the retry reaches rasa2, waits for the turn under the shared lock and answers it from
    the shared store: one turn, one answer."""
    if not servers.cluster:
        pytest.skip("two Rasa instances: pytest --cluster")
    first_url, second_url = list(servers.ports.instance_urls().values())[:2]
    first = official_account(first_url, secure=True)
    second = official_account(second_url, secure=True)
    openid = new_openid()
    xml = first.text(openid, "证书直邮怎么申请？")
    pids = action_server_pids(servers)
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    resume = threading.Timer(6.0, lambda: [os.kill(pid, signal.SIGCONT) for pid in pids])
    resume.start()
    try:
        query, body = first.request(xml)
        with pytest.raises(OSError):                 # WeChat stops waiting at 5 s
            first.post(query, body)
        query, body = second.request(xml)
        status, reply = second.post(query, body)
    finally:
        resume.join()
    assert status == 200 and "来源：" in (second.read_reply(reply, openid) or "")
    assert len(user_events(servers.rasa_url, "wx-" + openid)) == 1
