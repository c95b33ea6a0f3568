"""The exam folder as derive grade reads it: what each variant asked, and its network.

answers.json (written by derive exam) gives every variant's asked quantities in the
order of the Moodle blanks, with the key value and the tolerance; each variant's
spec.yaml gives its network, from which the values every task depends on are computed
again (derive.evaluate), so that a student's answer can be recomputed from their own
earlier ones. A spec.yaml that no longer gives answers.json's values (an edited
folder) is refused, naming the variant and the quantity.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

from ..derivation import Derivation, derive
from ..errors import DeriveError, Problem, SpecError
from ..evaluate import Values, evaluate
from ..network import Network, build_network
from ..solution import build_solution
from ..spec import load_spec
from ..spec.model import asked_parameters

ANSWERS_FORMAT = "derive-exam-answers/1"
VARIANT_FOLDER = re.compile(r"variant-([0-9]{2,})\Z")


class Task(NamedTuple):
    """One asked quantity of one variant."""

    quantity: str  # answers.csv's column: "z:h1", "loss", "grad x1->h1", "updated b:h1"
    number: str  # the worksheet's task: "1.3z" (z of the third neuron), "2", "3.4", "4.2"
    key: float  # the key's value (under the exam's rounding policy)
    exact: float
    shown: str  # as the key shows it
    tolerance: float


class VariantKey(NamedTuple):
    number: int
    tasks: tuple[Task, ...]  # in answers.json's order: the order of the Moodle blanks
    network: Network
    values: Values  # every value of the step, exact


class ExamKey(NamedTuple):
    folder: Path
    title: str
    digits: int  # the key's decimal places (key.json)
    derivation: Derivation  # of the shared topology; paths built where the key could print them
    variants: dict[int, VariantKey]

    @property
    def quantities(self) -> tuple[str, ...]:
        """The asked quantities, the same for every variant (one template)."""
        first = next(iter(self.variants.values()))
        return tuple(task.quantity for task in first.tasks)


def read_exam(folder: str | Path) -> ExamKey:
    """Read and check the exam folder written by derive exam."""
    root = Path(folder)
    answers_path = root / "answers.json"
    document = read_json(answers_path)
    entries = document.get("variants") if isinstance(document, dict) else None
    if not isinstance(document, dict) or document.get("format") != ANSWERS_FORMAT or not isinstance(entries, list) \
            or not entries:
        raise DeriveError(f"{answers_path}: not the answers.json of a derive exam (expected "
                          f"\"format\": \"{ANSWERS_FORMAT}\" and a list of variants)")
    folders = variant_folders(root)
    derivation: Derivation | None = None
    digits = 4
    variants: dict[int, VariantKey] = {}
    for entry in entries:
        number = entry.get("variant") if isinstance(entry, dict) else None
        if not isinstance(number, int) or number not in folders or not isinstance(entry.get("answers"), dict):
            raise DeriveError(f"{answers_path}: variant entry {number!r} has no folder variant-NN "
                              "beside it, or no answers")
        spec = load_spec(folders[number] / "spec.yaml")
        network = build_network(spec)
        if derivation is None:  # one topology: derived once, as derive exam does
            derivation = derive(network, form="auto")
            digits = key_digits(folders[number] / "key.json")
            numbers = task_numbers(derivation, network, spec.asked)
        values = evaluate(derivation, network, "exact", digits)
        tasks = tuple(read_task(answers_path, number, quantity, item, numbers)
                      for quantity, item in entry["answers"].items())
        check_values(answers_path, number, tasks, derivation, values)
        variants[number] = VariantKey(number, tasks, network, values)
    assert derivation is not None
    title = document.get("title") if isinstance(document.get("title"), str) else ""
    return ExamKey(root, title, digits, derivation, variants)


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DeriveError(f"{path.parent} is not an exam folder of derive exam: it has no "
                          "answers.json") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DeriveError(f"cannot read {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise SpecError([Problem(str(path), error.lineno, f"column {error.colno}",
                                 f"not valid JSON: {error.msg}")]) from None


def variant_folders(root: Path) -> dict[int, Path]:
    """variant-07 -> 7, never following a link out of the exam."""
    found = {}
    for child in sorted(root.iterdir()):
        match = VARIANT_FOLDER.match(child.name)
        if match and child.is_dir() and not child.is_symlink():
            found[int(match[1])] = child
    return found


def key_digits(path: Path) -> int:
    """The decimal places of the key (its rounding rule), for the feedback's numbers."""
    document = read_json(path)
    rounding = document.get("rounding") if isinstance(document, dict) else None
    digits = rounding.get("digits") if isinstance(rounding, dict) else None
    return digits if isinstance(digits, int) and 1 <= digits <= 12 else 4


def task_numbers(derivation: Derivation, network: Network, asked: tuple[str, ...]) -> dict[str, str]:
    """Quantity -> the worksheet's task number, as the key numbers its sections: 1.k for
    the k-th neuron's forward line (1.kz and 1.ka for its z and a), 2 for the loss, 3.k
    for the gradients in the order the backward pass works them, 4.k for the updates."""
    values = evaluate(derivation, network, "exact")
    solution = build_solution(derivation, values, network, "exact", asked_parameters(asked))
    step = solution.steps[0]
    numbers = {"loss": step.loss.task or "2"}
    for layer in step.forward:
        for line in layer.lines:
            if line.task:
                numbers[f"z:{line.neuron}"] = f"{line.task}z"
                numbers[f"a:{line.neuron}"] = f"{line.task}a"
    for backward in step.backward:
        for block in backward.gradients:
            if block.task:
                numbers[f"grad {block.key}"] = block.task
    for update in step.updates:
        if update.task:
            numbers[f"updated {update.key}"] = update.task
    return numbers


def read_task(path: Path, variant: int, quantity: str, item: object, numbers: dict[str, str]) -> Task:
    fields = ("key", "exact", "tolerance")
    if not isinstance(item, dict) or not all(isinstance(item.get(f), (int, float)) for f in fields) \
            or quantity not in numbers:
        raise DeriveError(f"{path}: variant {variant}: {quantity!r} is not an answer derive grade "
                          "knows (expected key, exact and tolerance of an asked quantity)")
    return Task(quantity, numbers[quantity], float(item["key"]), float(item["exact"]),
                str(item.get("shown", item["key"])), float(item["tolerance"]))


def check_values(path: Path, variant: int, tasks: tuple[Task, ...], derivation: Derivation,
                 values: Values) -> None:
    """answers.json's exact values are the spec's, recomputed: else the folder was edited."""
    for task in tasks:
        mine = float(exact_value(task.quantity, derivation, values))
        if abs(mine - task.exact) > 1e-9 * max(1.0, abs(mine)):
            raise DeriveError(f"{path}: variant {variant}: {task.quantity} is {task.exact!r}, but "
                              f"variant {variant}'s spec.yaml gives {mine!r}; was the exam folder "
                              "edited? Make the exam again with derive exam")


def exact_value(quantity: str, derivation: Derivation, values: Values) -> object:
    """A quantity's exact value from the evaluated step."""
    if quantity == "loss":
        return values.loss
    kind, _, key = quantity.partition(" ")
    if kind == "grad":
        return values.gradients[key]
    if kind == "updated":
        return values.updated[key]
    part, _, neuron = quantity.partition(":")
    unit = derivation.network.units[neuron]
    symbol = derivation.symbols[unit.z_symbol if part == "z" else unit.a_symbol]  # type: ignore[index]
    return values.symbols[symbol]
