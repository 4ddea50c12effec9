"""The simulator's figures (pure functions over the results) and the Markdown report."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from dealer.i18n import LANGUAGES
from trainer.simulate.generate import FLOWS
from trainer.simulate.runner import Run, business_share

NO_QUESTION = "(no question)"  # a bot turn that asked nothing: an answer, information


def figures(run: Run) -> dict[str, Any]:
    """The headline figures of a run, per language:

    - ``success``: share of conversations with the expected outcome, one expected row in the
      store and the survey answers the customer gave (per flow too);
    - ``did_not_understand``: share of in-scope conversations (every flow but off-topic) with at
      least one "did not understand" reply; ``not_understood_after``: those replies counted by
      the question the customer's message answered ("opening", "none"), counts only, so the
      held-out run can say where they come from without showing its texts;
    - ``wrong_language``: bot replies in the other language than the customer's;
    - ``max_reprompts``: the most times one question was asked again in one conversation;
    - ``redundant_asks``: questions asked although the opening message answered them;
    - ``oos_business``: share of the out-of-scope messages the NLU gave a business intent;
    - ``seconds_by_question``: the bot's mean reply time (seconds, over every turn of every
      conversation) per question it asked in the reply, slowest first (:data:`NO_QUESTION`:
      a reply that asked none, an answer or information).
    """
    result: dict[str, Any] = {"conversations": len(run.results), "seconds": round(run.seconds)}
    for lang in LANGUAGES:
        rows = [r for r in run.results if r.profile.language == lang]
        in_scope = [r for r in rows if r.profile.flow != "off_topic"]
        per_flow = {}
        for flow in FLOWS:
            flow_rows = [r for r in rows if r.profile.flow == flow]
            if flow_rows:
                per_flow[flow] = [sum(r.success for r in flow_rows), len(flow_rows)]
        reprompts: Counter = Counter()
        not_understood: Counter = Counter()
        for r in rows:
            for name, count in r.transcript.reprompts.items():
                reprompts[name] = max(reprompts[name], count)
            not_understood.update(r.transcript.not_understood_after)
        seconds: dict[str, list[float]] = defaultdict(list)
        for r in rows:
            for question, values in r.transcript.reply_seconds.items():
                seconds[question or NO_QUESTION] += values
        oos = run.out_of_scope.get(lang) or []
        result[lang] = {
            "conversations": len(rows),
            "success": _share(sum(r.success for r in rows), len(rows)),
            "did_not_understand": _share(
                sum(r.transcript.did_not_understand > 0 for r in in_scope), len(in_scope)
            ),
            "wrong_language": sum(r.transcript.wrong_language for r in rows),
            "max_reprompts": max(reprompts.values(), default=0),
            "reprompts_by_question": dict(sorted(reprompts.items())),
            "not_understood_after": dict(not_understood.most_common()),
            "redundant_asks": sum(sum(r.transcript.redundant.values()) for r in rows),
            "unknown_replies": sum(r.transcript.unknown_replies for r in rows),
            "turns_mean": round(
                sum(len(r.transcript.turns) for r in rows) / len(rows), 1) if rows else 0,
            "flows": per_flow,
            "oos_messages": len(oos),
            "oos_business": round(business_share([i for _m, i in oos]), 3) if oos else None,
            "oos_intents": dict(Counter(i for _m, i in oos).most_common(8)),
            "seconds_by_question": mean_seconds(seconds),
        }  # fmt: skip
    return result


def mean_seconds(seconds: dict[str, list[float]]) -> dict[str, float]:
    """The mean of each list (rounded to ms), slowest first."""
    means = {q: round(sum(v) / len(v), 3) for q, v in seconds.items() if v}
    return dict(sorted(means.items(), key=lambda kv: (-kv[1], kv[0])))


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def markdown(run: Run, title: str, show_failures: int = 0) -> str:
    """The report: headline figures per language, success per flow, the failure kinds."""
    f = figures(run)
    lines = [f"# {title}", "", f"{f['conversations']} conversations in {f['seconds']} s.", ""]
    lines += ["| | nl | en |", "|---|---|---|"]
    rows = [
        ("conversations", lambda d: str(d["conversations"])),
        ("end-to-end success", lambda d: _pct(d["success"])),
        ('"did not understand" in in-scope conversations', lambda d: _pct(d["did_not_understand"])),
        ("wrong-language replies", lambda d: str(d["wrong_language"])),
        ("max re-prompts for one question", lambda d: str(d["max_reprompts"])),
        ("questions asked although already answered", lambda d: str(d["redundant_asks"])),
        ("replies not in the domain", lambda d: str(d["unknown_replies"])),
        ("mean customer messages", lambda d: str(d["turns_mean"])),
        ("out-of-scope messages", lambda d: str(d["oos_messages"])),
        ("out-of-scope given a business intent", lambda d: _pct(d["oos_business"])),
    ]  # fmt: skip
    for label, cell in rows:
        lines.append(f"| {label} | {cell(f['nl'])} | {cell(f['en'])} |")
    lines += ["", "## Success per flow", "", "| flow | nl | en |", "|---|---|---|"]
    for flow in FLOWS:
        cells = []
        for lang in LANGUAGES:
            ok, n = f[lang]["flows"].get(flow, (0, 0))
            cells.append(f"{ok}/{n}" if n else "–")
        lines.append(f"| {flow} | {cells[0]} | {cells[1]} |")
    lines += ["", "## Re-prompts per question (max in one conversation)", ""]
    for lang in LANGUAGES:
        by_q = f[lang]["reprompts_by_question"]
        lines.append(f"- {lang}: " + (", ".join(f"{q} {n}" for q, n in by_q.items()) or "none"))
    lines += ["", '## "Did not understand" replies, by the question the message answered', ""]
    for lang in LANGUAGES:
        after = f[lang].get("not_understood_after") or {}
        lines.append(f"- {lang}: " + (", ".join(f"{q} {n}" for q, n in after.items()) or "none"))
    kinds: dict[str, Counter] = defaultdict(Counter)
    for r in run.results:
        for problem in r.problems:
            kinds[r.profile.language][_kind(problem)] += 1
    lines += ["", "## Why conversations failed (kinds, count)", ""]
    for lang in LANGUAGES:
        common = kinds[lang].most_common(10)
        lines.append(f"- {lang}: " + ("; ".join(f"{k} ({n})" for k, n in common) or "none"))
    unknown = Counter(text for r in run.results for text in r.transcript.unknown_texts)
    if unknown:
        lines += ["", "## Replies that are no response of the domain", ""]
        lines += [f"- {n}x {text!r}" for text, n in unknown.most_common(5)]
    for lang in LANGUAGES:
        intents = f[lang]["oos_intents"]
        if intents:
            lines.append(f"- out-of-scope intents {lang}: "
                         + ", ".join(f"{k} {v}" for k, v in intents.items()))  # fmt: skip
    # Failed conversations first, then those that asked a question the opening had answered,
    # then those that got "did not understand" on the way.
    shown = [r for r in run.results if not r.success]
    shown += [r for r in run.results if r.success and r.transcript.redundant]
    shown += [r for r in run.results if r.success and not r.transcript.redundant
              and r.transcript.did_not_understand]  # fmt: skip
    if shown[:show_failures]:
        lines += ["", "## Failed conversations, questions asked again, not understood", ""]
        for r in shown[:show_failures]:
            p = r.profile
            again = [f"asked again: {name}" for name in sorted(r.transcript.redundant)]
            if r.transcript.did_not_understand:
                again.append(f"not understood: {r.transcript.did_not_understand}")
            lines.append(f"### {p.id} ({', '.join(p.tags)}): {'; '.join([*r.problems, *again])}")
            for message, replies in r.transcript.turns:
                lines.append(f"- customer: {message}")
                for reply in replies:
                    lines.append(f"  - bot [{reply.name}]: {reply.text[:160]!r}")
            lines.append("")
    return "\n".join(lines) + "\n"


def _kind(problem: str) -> str:
    """A failure reason without its values, for counting kinds."""
    return re.sub(r"\d+|'[^']*'|\{[^}]*\}|[A-Z0-9]+-[A-Z0-9]+-[A-Z0-9]+", "#", problem)[:70]
