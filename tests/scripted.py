"""A scripted stand-in for the model, for tests that need controlled outputs (a 270M model cannot be made
to write a given bug on demand). Deterministic in (prompt, seed); everything else in the loop is real:
ledger, sandbox, gates, pairing. Set SCRIPTED_KILL_AFTER=N to SIGKILL the process on the Nth call."""

from __future__ import annotations

import hashlib
import os
import signal

from selfmine.engine import Completion, Engine
from selfmine.seeds import stream

# A proposal batch's sampling seed names (run seed, round, start); the script picks its problems by the
# number the old linear scheme gave that batch, so the scripted rounds stay what the tests were written for.
_BATCH = {
    stream(seed, "propose", rnd, start): seed * 7919 + (rnd - 1) * 104729 + start
    for seed in range(4)
    for rnd in range(1, 6)
    for start in range(256)
}

PROBLEMS = {
    "easy": (
        'easy_sum(a, b):\n    """Return a plus b."""\n    return a + b\n\nassert easy_sum(1, 2) == 3\n'
        "assert easy_sum(0, 0) == 0\nassert easy_sum(-1, 5) == 4\n",
        "    return a + b",
    ),
    "mid": (
        'mid_rev(s):\n    """Return s reversed."""\n    return s[::-1]\n\nassert mid_rev("ab") == "ba"\n'
        'assert mid_rev("") == ""\nassert mid_rev("xyz") == "zyx"\n',
        "    return s[::-1]",
    ),
    "hard": (
        'hard_sq(n):\n    """Return the list of squares of 0..n-1."""\n    return [i * i for i in range(n)]\n\n'
        "assert hard_sq(3) == [0, 1, 4]\nassert hard_sq(0) == []\nassert hard_sq(1) == [0]\n",
        "    return [i * i for i in range(n)]",
    ),
    "few": ('few_asserts(x):\n    """Identity."""\n    return x\n\nassert few_asserts(1) == 1\n', "    return x"),
    "wrong": (
        'wrong_self(x):\n    """Double x."""\n    return x * 3\n\nassert wrong_self(1) == 2\nassert wrong_self(2) == 4\n'
        "assert wrong_self(0) == 0\n",
        "    return x * 2",
    ),
    "copy": (
        'has_close_elements(numbers, threshold):\n    """ Check if in given list of numbers, are any two numbers closer '
        "to each other than\n    given threshold.\n    >>> has_close_elements([1.0, 2.0, 3.0], 0.5)\n    False\n    "
        '>>> has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)\n    True\n    """\n    for idx, elem in enumerate(numbers):\n'
        "        for idx2, elem2 in enumerate(numbers):\n            if idx != idx2:\n                distance = abs(elem - elem2)\n"
        "                if distance < threshold:\n                    return True\n\n    return False\n\n"
        "assert has_close_elements([1.0, 2.0], 0.5) is False\nassert has_close_elements([1.0, 1.1], 0.5) is True\n"
        "assert has_close_elements([], 1.0) is False\n",
        "",
    ),
    # curriculum variants (asked for by the harder / easier prompts)
    "harder": (
        'sum_three(a, b, c):\n    """Return a plus b plus c."""\n    return a + b + c\n\nassert sum_three(1, 2, 3) == 6\n',
        "    return a + b + c",
    ),
    "easier": (
        'square_one(n):\n    """Return n squared."""\n    return n * n\n\nassert square_one(3) == 9\n',
        "    return n * n",
    ),
}
ORDER = ["easy", "mid", "hard", "few", "wrong", "copy", "easy"]  # the last one is an exact duplicate
BUGS = ["    return None", "    return (", "", "    while True:\n        pass", "    raise ValueError('x')"]


def _h(*parts) -> int:
    return int(hashlib.sha256(repr(parts).encode()).hexdigest(), 16)


class ScriptedEngine(Engine):
    name = "scripted"
    model_name = "scripted"

    def __init__(self):
        self.calls = 0

    def generate(self, prompts, params, adapter=None, progress=False, seeds=None):
        self.calls += 1
        if int(os.environ.get("SCRIPTED_KILL_AFTER", "0")) == self.calls:
            os.kill(os.getpid(), signal.SIGKILL)
        out = []
        for pos, prompt in enumerate(prompts):
            out.append([self._one(prompt, params, pos, i) for i in range(params.n)])
        return out

    def _one(self, prompt: str, params, pos: int, i: int) -> Completion:
        if "### Exercise (topic:" in prompt:  # proposal number k (seed 0) gets ORDER[k % len(ORDER)]
            return Completion(
                "def " + PROBLEMS[ORDER[(_BATCH.get(params.seed, params.seed) + pos) % len(ORDER)]][0], "stop", 10, 10
            )
        for variant in ("harder", "easier"):
            if f"### Exercise (a{'n' if variant == 'easier' else ''} {variant} variant" in prompt:
                return Completion("def " + PROBLEMS[variant][0], "stop", 10, 10)
        if "# Example calls of" in prompt:  # the follow-up that asks for calls only
            return Completion("2))\nprint(few_asserts(5))\n" if "few_asserts" in prompt else "1))\n", "stop", 10, 5)
        name = next((k for k, (src, _) in PROBLEMS.items() if src.split("(")[0] in prompt), "easy")
        good = PROBLEMS[name][1]
        if "# Fixed version:" in prompt:
            return Completion(good, "stop", 10, 5)
        # easy: all pass; mid: mixed; hard: all fail (then repaired)
        if name == "easy" or (name == "mid" and i % 2 == 0):
            return Completion(good, "stop", 10, 5)
        bug = BUGS[(_h(prompt, i) % len(BUGS))] if name == "mid" else BUGS[i % 3]
        return Completion(bug, "length" if bug == "    return (" else "stop", 10, 5)
