# Two commands: `make run` and `make test`. Everything else is a step they call.
# NLU gate: macro intent F1 >= 0.95 on the held-out tests/test_nlu.yml (the issue's target).
SHELL := /bin/bash
PY310 ?= $(firstword $(wildcard /root/.pyenv/versions/3.10.13/bin/python) $(shell command -v python3.10))
PY311 ?= $(firstword $(wildcard /root/.pyenv/versions/3.11.7/bin/python) $(shell command -v python3.11))
BOT := .venv/bin/python
RASA := .venv-rasa/bin/rasa
export RASA_TELEMETRY_ENABLED := false
# endpoints.yml's variables for Rasa commands run here (the servers get theirs from bot/servers.py)
export TRACKER_DB_URL ?= sqlite:///var/tracker.db
export TRACKER_DIALECT ?= sqlite
export LOCK_STORE_TYPE ?= in_memory
export REDIS_HOST ?= 127.0.0.1
export REDIS_PORT ?= 6379
export ACTION_SERVER_URL ?= http://127.0.0.1:5055/webhook
FAQ_DATA := $(wildcard data/faq/*.yml data/faq/entries/*.yml data/faq/sources/*.yml)
RASA_DATA := config.yml domain.yml $(FAQ_DATA) rasa_server/sentence_featurizer.py rasa_server/blended_classifier.py bot/lang/text.py bot/retrieval/embedding.py $(shell find data/nlu data/rules data/stories -type f -not -path '*/generated/*')
WEB_SRC := $(shell find bot/web/chat/frontend -path '*/node_modules' -prune -o -type f -print 2>/dev/null)

.PHONY: help install import index nlu train run stop wechat-env test eval report bench soak clean
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

.venv/.installed: requirements/bot.txt
	$(PY311) -m venv .venv && .venv/bin/pip install -q torch==2.13.0
	.venv/bin/pip install -q -r requirements/bot.txt && touch $@
.venv-rasa/.installed: requirements/rasa.txt requirements/rasa-constraints.txt
	$(PY310) -m venv .venv-rasa
	.venv-rasa/bin/pip install -q -r requirements/rasa.txt -c requirements/rasa-constraints.txt && touch $@
# fonts for headless Chromium: without them Chinese and emoji show as boxes in screenshots
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
EMOJI_FONT := /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf
/usr/bin/chromium:
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver \
	  fonts-noto-cjk fonts-noto-color-emoji
/usr/bin/redis-server: # the live handoff's test of two web fronts sharing Redis pub/sub (as in the cluster)
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server
$(CJK_FONT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk
$(EMOJI_FONT):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji
bot/web/static/dist/.built: $(WEB_SRC)
	cd bot/web/chat/frontend && npm ci --no-audit --no-fund && npm run build
	touch $@
install: .venv/.installed .venv-rasa/.installed /usr/bin/chromium /usr/bin/redis-server $(CJK_FONT) $(EMOJI_FONT) bot/web/static/dist/.built ## install what is missing
	@$(BOT) -m bot.web.password ensure

import: .venv/.installed ## re-clean the raw seed pages (../shared/seeds) into data/faq/sources
	$(BOT) -m bot import
INDEX_CODE := bot/retrieval/index.py bot/retrieval/ranker.py bot/retrieval/embedding.py
models/index/manifest.json: .venv/.installed $(FAQ_DATA) $(INDEX_CODE)
	$(BOT) -m bot index
index: models/index/manifest.json ## build the retrieval index if the data changed
models/rasa/model.tar.gz: .venv-rasa/.installed .venv/.installed $(RASA_DATA)
	$(BOT) -m bot.training.nlu_export
	$(RASA) train --fixed-model-name model --out models/rasa --data data/nlu data/rules data/stories --num-threads 2
	touch $@
train: models/rasa/model.tar.gz ## train Rasa if data or config changed

BASELINE := benchmarks/response_selector
BASELINE_DATA := $(FAQ_DATA) $(BASELINE)/config.yml data/nlu/smalltalk.yml data/nlu/jieba/domain_terms.txt \
  data/faq/replies.yml bot/training/baseline.py bot/training/nlu_export.py
models/baseline/model.tar.gz: .venv-rasa/.installed .venv/.installed $(BASELINE_DATA)
	$(BOT) -m bot.training.baseline
	$(RASA) train --config $(BASELINE)/config.yml --domain $(BASELINE)/domain.yml --data $(BASELINE)/data \
	  --fixed-model-name model --out models/baseline --num-threads 2
	touch $@

run: install index train ## install, build, start every server and print the URL
	$(BOT) -m bot.servers start
stop: ## stop the servers `make run` started
	$(BOT) -m bot.servers stop
wechat-env: .venv-rasa/.installed ## add WeChat placeholders (generated Token and EncodingAESKey) to .env
	.venv-rasa/bin/python -m rasa_server.wechat_setup --env-file .env

test: install index train ## validate data, run every test (servers and browser included)
	$(RASA) data validate --data data/nlu data/rules data/stories
	$(BOT) -m pytest
	$(RASA) test nlu --nlu tests/test_nlu.yml --out results/nlu --model models/rasa/model.tar.gz --successes
	$(BOT) -m bot.quality.nlu_gate results/nlu/intent_report.json --min-f1 0.95
	$(RASA) test core --stories tests/test_stories.yml --fail-on-prediction-errors \
	  --out results/core --model models/rasa/model.tar.gz

results/nlu/intent_report.json: models/rasa/model.tar.gz tests/test_nlu.yml
	$(RASA) test nlu --nlu tests/test_nlu.yml --out results/nlu --model models/rasa/model.tar.gz --successes
report: install index train results/nlu/intent_report.json ## quality report: reports/quality.html (+ eval/bench results if run)
	$(BOT) -m bot.quality.report
eval: install index train ## run tests/regression/ through the real assistant: table + reports/eval.json
	$(BOT) -m bot.quality.eval
bench: install index train models/baseline/model.tar.gz ## latency, throughput, memory, accuracy vs a ResponseSelector bot (reports/bench.md)
	$(BOT) -m bot.quality.bench $(BENCH_ARGS)

soak: install index train ## the full soak: fuzz, 16 users for 10 minutes, kill -9 of each server, tracker check (reports/soak.json)
	$(BOT) -m bot.quality.soak

# The cluster profile (docs/CLUSTER.md): PostgreSQL, Redis and haproxy from Debian's packages,
# run by supervisord as processes of ours (data under var/cluster), never as system services.
.PHONY: install-cluster run-cluster test-cluster bench-cluster
install-cluster: ## PostgreSQL, Redis and haproxy from Debian's packages, when missing
	@if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || ! command -v redis-server >/dev/null \
	  || ! command -v haproxy >/dev/null; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server haproxy; fi
run-cluster: install install-cluster index train ## start the cluster profile: 2 Rasa, 2 action servers, haproxy, PostgreSQL, Redis, web
	$(BOT) -m bot.servers start --cluster
test-cluster: install install-cluster index train ## the server tests against the cluster profile, and tests/test_cluster.py
	$(BOT) -m pytest --cluster
bench-cluster: install install-cluster index train ## cluster vs single process: throughput, p95, CPU and RSS per process (reports/cluster_bench.md)
	$(BOT) -m bot.quality.cluster_bench $(BENCH_ARGS)

clean: ## remove build outputs (venvs stay)
	rm -rf models/index models/index-versions models/candidates models/rasa models/baseline data/nlu/generated results reports bot/web/static/dist \
	  $(BASELINE)/domain.yml $(BASELINE)/data
