"""``python -m bot.quality.soak [--quick]``: fuzz, load and faults against real servers.

Starts its own servers under supervisord (free ports, a throw-away var/ directory), then:
the fuzz of the web front, the REST channel and the 公众号 webhook; load with locust while
each server is killed with -9 in turn and the SQLite tracker is held locked; the check of
every sent turn in the tracker store; a normal question at the end. Full: 5,000 fuzz
inputs per target (500 for the webhook, each a turn) and 10 minutes of 16 users;
``--quick`` (``make test``): 250 per target (40 for the webhook) and one minute. Writes
``reports/soak.json`` and prints the figures; exits 1 when a pass condition fails.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bot import PROJECT_ROOT
from bot.quality.soak.faults import account, run_faults
from bot.quality.soak.fuzz import fuzz_rest, fuzz_web
from bot.quality.soak.load import Load, check_tracker
from bot.quality.soak.wechat_fuzz import account_environment, fuzz_wechat
from bot.rasa_client import RasaBadResponse, RasaClient, RasaUnavailable
from bot.servers import Ports, Supervisor, is_up

REPORT = PROJECT_ROOT / "reports" / "soak.json"
FULL = {"fuzz": 5000, "wechat_fuzz": 500, "users": 16, "seconds": 600}
QUICK = {"fuzz": 250, "wechat_fuzz": 40, "users": 16, "seconds": 60}
CHECK_QUESTION, CHECK_ENTRY = "证书直邮怎么申请？", "direct_mail_how"


def still_right(supervisor: Supervisor) -> dict:
    """Every server alive, and a normal question answered with the right entry."""
    alive = {name: is_up(url) for name, url in supervisor.ports.health_urls().items()}
    try:
        with RasaClient(f"http://127.0.0.1:{supervisor.ports.rasa}") as rasa:
            entry = rasa.send(f"soak-check-{time.time_ns()}", CHECK_QUESTION).custom.get("entry_id")
    except (RasaUnavailable, RasaBadResponse) as error:
        entry = f"no answer ({error.problem})"
    return {"alive": alive, "question": CHECK_QUESTION, "entry": entry,
            "right": entry == CHECK_ENTRY}


def verdict(report: dict) -> list[str]:
    """The pass conditions that failed (empty: the soak passed)."""
    failed = []
    for fuzz in report["fuzz"]:
        if fuzz["server_errors"] or fuzz["empty_replies"]:
            failed.append(f"{fuzz['target']}: {fuzz['server_errors']} 5xx, "
                          f"{fuzz['empty_replies']} empty replies or wrong statuses")
    load = report["load"]
    if load["lost"] or load["duplicated"]:
        failed.append(f"load: {load['lost']} turns lost, {load['duplicated']} duplicated")
    for fault in report["faults"]:
        if fault["back_after_s"] is None:
            failed.append(f"{fault['name']}: the service did not come back")
        if fault["errors"]:
            failed.append(f"{fault['name']}: {fault['errors']} turns answered with an error")
    for when in ("after_fuzz", "after_load"):
        check = report[when]
        if not all(check["alive"].values()) or not check["right"]:
            failed.append(f"{when}: servers {check['alive']}, normal question -> {check['entry']}")
    return failed


def run(plan: dict, var: Path, report: dict) -> None:
    """The suite on servers of its own under ``var``; figures into ``report``."""
    wechat = account_environment()
    supervisor = Supervisor(Ports.free(), var_dir=var,
                            tracker_db_url=f"sqlite:///{var / 'tracker.db'}", extra_env=wechat)
    supervisor.start()
    try:
        web = f"http://127.0.0.1:{supervisor.ports.web}"
        rasa = f"http://127.0.0.1:{supervisor.ports.rasa}"
        report["fuzz"] = [vars(fuzz_web(web, plan["fuzz"])), vars(fuzz_rest(rasa, plan["fuzz"])),
                          vars(fuzz_wechat(rasa, wechat["WECHAT_TOKEN"], plan["wechat_fuzz"]))]
        report["after_fuzz"] = still_right(supervisor)
        load = Load(web, plan["users"], plan["seconds"], var / "load")
        time.sleep(5)
        faults = run_faults(supervisor, var / "tracker.db", supervisor.programs)
        result = load.finish()
        turns = load.turns()
        account(faults, turns)
        check_tracker(turns, f"sqlite:///{var / 'tracker.db'}", result)
        report["load"] = result.as_dict()
        report["faults"] = [fault.as_dict() for fault in faults]
        report["after_load"] = still_right(supervisor)
    finally:
        supervisor.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.quality.soak",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the short version (make test)")
    parser.add_argument("--out", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    report: dict = {"generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "plan": plan, "quick": args.quick}
    var = Path(tempfile.mkdtemp(prefix="soak-"))  # kept, with the servers' logs, on failure
    run(plan, var, report)
    report["failed"] = verdict(report)
    report["logs"] = str(var / "log") if report["failed"] else None
    if not report["failed"]:
        shutil.rmtree(var, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(summary(report))
    return 1 if report["failed"] else 0


def summary(report: dict) -> str:
    lines = [f"soak ({'quick' if report['quick'] else 'full'}), {report['generated']}"]
    for fuzz in report["fuzz"]:
        lines.append(f"  fuzz {fuzz['target']}: {fuzz['requests']} requests, "
                     f"{fuzz['server_errors']} 5xx, {fuzz['empty_replies']} empty replies "
                     f"({fuzz['seconds']} s)")
    load = report["load"]
    lines.append(f"  load {load['users']} users x {load['seconds']} s: {load['turns']} turns, "
                 f"p50 {load['p50_ms']} ms, p95 {load['p95_ms']} ms, outage replies "
                 f"{load['outage_replies']}, offline {load['offline']}, lost {load['lost']}, "
                 f"duplicated {load['duplicated']}")
    for fault in report["faults"]:
        lines.append(f"  {fault['name']}: back after {fault['back_after_s']} s; turns meanwhile "
                     f"{fault['turns']} (polite {fault['polite']}, widget offline bubble {fault['offline']}, "
                     f"errors {fault['errors']})")
    lines.append("  passed" if not report["failed"] else "  FAILED: " + "; ".join(report["failed"]))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
