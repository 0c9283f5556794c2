"""A scripted stand-in for the model in the math domain (a 270M model cannot be made to write a given
word problem on demand). Deterministic in (prompt, seed); the ledger, sandbox, math-verify checks, gates
and pairing are real. SCRIPTED_KILL_AFTER=N SIGKILLs the process on the Nth generate call."""

from __future__ import annotations

from selfmine.engine import Completion

from .scripted import _BATCH, ScriptedEngine

# name: (question, program, stated answer, correct solution, wrong solution)
PROBLEMS = {
    "easy": (
        "A box holds 4 rows of 6 eggs each. How many eggs are in the box altogether?",
        "def solution():\n    return 4 * 6",
        "24",
        " There are 4 * 6 = 24 eggs.\n#### 24",
        " There are 4 + 6 = 10 eggs.\n#### 10",
    ),
    "mid": (
        "Sam has 15 marbles and buys 3 bags with 7 marbles in each bag. How many marbles does Sam have now?",
        "def solution():\n    return 15 + 3 * 7",
        "36",
        " He buys 3 * 7 = 21 marbles, so he has 15 + 21 = 36.\n#### 36",
        " He has 15 + 3 + 7 = 25 marbles.\n#### 25",
    ),
    "hard": (
        "A car uses 8 litres of fuel for every 100 km it drives. How many litres does it use on a 350 km trip?",
        "def solution():\n    return 8 * 350 / 100",
        "28.0",
        " It uses 8 / 100 * 350 = 28 litres.\n#### 28",
        " It uses 8 * 350 = 2800 litres.\n#### 2800",
    ),
    "bad_label": (
        "A pack has 12 pencils and a teacher buys 5 packs for her class. How many pencils does she buy?",
        "def solution():\n    return 12 * 5",
        "65",
        "",
        "",
    ),
    "error": (
        "A shop sells apples for 2 dollars each and pears for 3 dollars each. What do 4 of each cost?",
        "def solution():\n    return undefined_price * 4",
        "20",
        "",
        "",
    ),
    "slow": (
        "A number is raised to a tower of powers of ten. How many digits does the final number have exactly?",
        "def solution():\n    return len(str(10**10**10))",
        "10000000001",
        "",
        "",
    ),
    "trivial": (
        "There are 7 days in a week and Ana counts them all. The answer is 7. How many days are there?",
        "def solution():\n    return 7",
        "7",
        "",
        "",
    ),
}
VARIANTS = {
    "harder": (
        "A box holds 4 rows of 6 eggs each, and 5 of the eggs break. How many unbroken eggs are in the box?",
        "def solution():\n    return 4 * 6 - 5",
        "19",
        " There are 4 * 6 = 24 eggs and 24 - 5 = 19 stay whole.\n#### 19",
        " There are 24 + 5 = 29.\n#### 29",
    ),
    "easier": (
        "A car uses 8 litres of fuel for every 100 km it drives. How many litres does it use on a 200 km trip?",
        "def solution():\n    return 8 * 2",
        "16",
        " It uses 8 * 2 = 16 litres.\n#### 16",
        " It uses 8 + 2 = 10 litres.\n#### 10",
    ),
}
ORDER = ["easy", "mid", "hard", "bad_label", "error", "slow", "trivial", "easy"]  # the last is a duplicate


def proposal(q: str, program: str, answer: str) -> str:
    return f" {q}\nProgram:\n{program}\nAnswer: {answer}\n"


class ScriptedMathEngine(ScriptedEngine):
    """The code script's engine (call counting, SCRIPTED_KILL_AFTER) with math outputs."""

    name = "scripted-math"
    model_name = "scripted-math"

    def _one(self, prompt: str, params, pos: int, i: int) -> Completion:
        if "a harder variant" in prompt:
            return Completion(proposal(*VARIANTS["harder"][:3]), "stop", 10, 10)
        if "an easier variant" in prompt:
            return Completion(proposal(*VARIANTS["easier"][:3]), "stop", 10, 10)
        if "### Problem (topic:" in prompt:
            return Completion(
                proposal(*PROBLEMS[ORDER[(_BATCH.get(params.seed, params.seed) + pos) % len(ORDER)]][:3]),
                "stop",
                10,
                10,
            )
        question = prompt.rsplit("Question:", 1)[1]
        row = next(r for r in list(PROBLEMS.values()) + list(VARIANTS.values()) if r[0] in question)
        right, wrong = row[3], row[4]
        if "Let me reconsider." in prompt:
            return Completion(right, "stop", 10, 5)
        if row is PROBLEMS["easy"] or row is VARIANTS["harder"]:
            return Completion(right, "stop", 10, 5)
        if row is PROBLEMS["mid"] or row is VARIANTS["easier"]:
            ok = params.temperature == 0 or i % 2 == 0
            return Completion(right if ok else wrong, "stop", 10, 5)
        return Completion(wrong if i % 3 else " I am not sure.", "stop", 10, 5)  # hard: every attempt fails
