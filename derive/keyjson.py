"""The JSON answer key (format derive-answer-key/1, docs/spec.md): built directly from
the Solution, not templated; every number also as the key displays it."""
from __future__ import annotations

import json
import math
import sys
from fractions import Fraction
from typing import Any

import mpmath

from .latex import format_number
from .maps import split_entry
from .rounding import ROUNDING_RULE
from .document import Solution


def render_json(solution: Solution, digits: int) -> str:
    steps = []
    if solution.kind == "updates":  # given gradients (derive.given): one step of updates only
        steps.append({"parameters": [given_update_entry(row, digits)
                                     for row in solution.sections[0].content.rows]})  # type: ignore[attr-defined]
    for step in solution.steps:
        forward = forward_entries([line for layer in step.forward for line in layer.lines])
        blocks = {block.key: block for layer in step.backward for block in layer.gradients}
        updates = {update.key: update for update in step.updates}
        parameters = [parameter_entry(key, blocks[key], updates.get(key), step, digits)
                      for key in step.values.gradients]  # spec order
        entry = {"forward": forward, "loss": step.loss.value, "outputs": dict(step.outputs),
                 "parameters": parameters}
        if step.sample is not None:
            entry = {"iteration": step.number, "sample": step.sample, **entry}
        elif len(solution.steps) > 1:
            entry = {"iteration": step.number, **entry}
        if step.part is not None:  # a spec with parts (derive.parts): the steps of each part in turn
            entry = {"part": step.part, **entry}
        for section in step.sections:
            if section.kind == "batch":
                entry["batch"] = batch_entry(section.content, digits)
        steps.append(entry)
    scope = ("every shown value is rounded and the next step computed from it"
             if solution.policy == "by-hand" else "display only; every value is computed in full precision")
    document = {"title": solution.title, "format": "derive-answer-key/1",
                "rounding": {"digits": digits, "rule": ROUNDING_RULE, "policy": solution.policy,
                             "scope": scope},
                "learning_rate": solution.given.eta, "steps": steps}
    if solution.parts:  # what each part overrides; "learning_rate" above is null when they differ
        document["parts"] = [part_entry(part) for part in solution.parts]
    return json.dumps(document, indent=1, ensure_ascii=False, default=json_number) + "\n"


def part_entry(part: Any) -> dict[str, Any]:
    """A part of a spec with parts: its label, heading, loss, learning rate and targets."""
    given = part.solution.given
    return {"label": part.label, "title": part.title, "loss": part.loss, "learning_rate": given.eta,
            "targets": {item.name: item.value for item in given.targets}}


def parameter_entry(key: str, block: object, update: object, step: object, digits: int) -> dict[str, Any]:
    """One weight or bias of a step in the JSON key; "updated" is null for a sample inside
    a batch (the batch's update is in the step's "batch")."""
    entry: dict[str, Any] = {"kind": block.kind}  # type: ignore[attr-defined]
    if key.startswith("k:"):  # a kernel entry of a conv map: k:<map>:<channel>:<row>,<col>
        _, map_name, channel, place = key.split(":")
        row, col = place.split(",")
        entry = {"kind": "kernel", "map": map_name, "channel": channel, "row": int(row), "col": int(col)}
    elif block.kind == "weight":  # type: ignore[attr-defined]
        source, target = key.split("->")
        place = split_entry(source)
        entry.update({"from": place[0], "row": place[1], "col": place[2]} if place else {"from": source})
        entry["to"] = target
    else:
        entry["neuron"] = key.removeprefix("b:")
    gradient = block.value  # type: ignore[attr-defined]
    entry.update({
        "symbol": block.symbol.name,  # type: ignore[attr-defined]
        "value": step.values.symbols[block.symbol],  # type: ignore[attr-defined]
        "gradient": gradient,
        "updated": update.new if update else None,  # type: ignore[attr-defined]
        "paths": [path.value for path in block.paths],  # type: ignore[attr-defined]
        "displayed": {"gradient": format_number(gradient, digits).text},
    })
    if update:
        entry["displayed"]["updated"] = format_number(update.new, digits).text  # type: ignore[attr-defined]
    return entry


def given_update_entry(row: Any, digits: int) -> dict[str, Any]:
    """One parameter of a given-gradient problem: its given gradient and its update (no
    paths: nothing was derived)."""
    entry: dict[str, Any] = {"kind": row.kind}
    if row.kind == "weight":
        source, target = row.key.split("->")
        entry.update({"from": source, "to": target})
    else:
        entry["neuron"] = row.key.removeprefix("b:")
    entry.update({"symbol": row.symbol.name, "value": row.old, "gradient": row.gradient,
                  "given": True, "updated": row.new,
                  "displayed": {"gradient": format_number(row.gradient, digits).text,
                                "updated": format_number(row.new, digits).text}})
    return entry


def forward_entries(lines: list[Any]) -> dict[str, Any]:
    """Each unit's z and a; a map's (every unit named like c1[2,3]) as nested lists, row by row."""
    forward: dict[str, Any] = {}
    for line in lines:
        place = split_entry(line.neuron)
        if place is None:
            forward[line.neuron] = {"z": line.z_value, "a": line.a_value}
            continue
        name, row, col = place
        found = forward.setdefault(name, {"z": [], "a": []})
        for what, value in (("z", line.z_value), ("a", line.a_value)):
            while len(found[what]) < row:
                found[what].append([])
            found[what][row - 1].append(value)
    return forward


def batch_entry(batch: object, digits: int) -> dict[str, Any]:
    return {"reduction": batch.reduction, "loss": batch.loss,  # type: ignore[attr-defined]
            "parameters": [{"key": row.key, "symbol": row.symbol.name, "gradient": row.combined,
                            "value": row.old, "updated": row.new,
                            "displayed": {"gradient": format_number(row.combined, digits).text,
                                          "updated": format_number(row.new, digits).text}}
                           for row in batch.rows]}  # type: ignore[attr-defined]


def json_number(value: object) -> float:
    """An exact or mpmath value as the nearest double; one beyond a double's range (a
    weight of 1e308 times an input of 2) as the largest double of its sign, since strict
    JSON has no Infinity. The "displayed" strings keep its digits."""
    if isinstance(value, (mpmath.mpf, Fraction)):
        try:
            number = float(value)
        except OverflowError:  # a Fraction whose quotient passes a double
            number = math.inf if value > 0 else -math.inf
        return math.copysign(sys.float_info.max, number) if math.isinf(number) else number
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
