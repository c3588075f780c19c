"""The build step that writes Rasa NLU examples from the FAQ entries and out_of_scope.yml."""

import yaml

from bot.training import nlu_export
def test_export_writes_topic_intents_and_out_of_scope_examples(tmp_path):
    path = nlu_export.export(out_dir=tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    blocks = {b.get("intent") or ("lookup:" + b["lookup"]): b["examples"] for b in data["nlu"]}
    assert {"ask_direct_mail", "ask_annotation", "out_of_scope", "lookup:place"} <= set(blocks)
    out_of_scope = [line[2:] for line in blocks["out_of_scope"].splitlines()]
    assert "毕业证丢了怎么补" in out_of_scope
    # no example is in two intents, and none repeats a hand-written example
    all_examples = [line for k, v in blocks.items() if not k.startswith("lookup:") for line in v.splitlines()]
    assert len(all_examples) == len(set(all_examples))
    assert not set(out_of_scope) & nlu_export.hand_written_examples()


def test_out_of_scope_examples_skip_known_ones(tmp_path):
    path = tmp_path / "oos.yml"
    path.write_text("questions:\n  a: [天气, '[不是]实体', 天气]\n  b: [红烧肉]\n", encoding="utf-8")
    assert nlu_export.out_of_scope_examples(path, skip={"红烧肉"}) == ["天气", "「不是」实体"]
