"""The math domain: word problems the model writes with a program that computes the answer, step-by-step
solutions that end in `#### ANSWER` (raw) or `\\boxed{ANSWER}` (chat), answers checked by math-verify in
a helper process with a hard deadline (`mathcheck`), and the training formats: solve, and repair with
keep-correct ("right stays right") examples against over-correction."""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass

from ..seeds import rng
from .code_text import ngrams, tokens  # noqa: F401  (word tokens and n-grams serve both domains)

FAILURE_CLASSES = ("wrong_answer", "format", "undecided")
# lower first: the most informative failure to repair; "undecided" is neither pass nor fail and never pairs
FAILURE_PRIORITY = {"wrong_answer": 0, "format": 1}
PROGRAM_NAME = "solution"
REVIEW_WRONG = "Wait, that is wrong: the final answer {answer} does not follow from the problem. Let me reconsider.\n"
REVIEW_RIGHT = "Let me check it again. That is right, and the answer stays.\n#### {answer}"

# -- solving -----------------------------------------------------------------------------------------
# Written for selfmine (not from any benchmark): the `#### N` convention for a raw base model.
SOLVE_SHOTS = [
    (
        "A baker makes 24 rolls in the morning and 18 in the afternoon. She sells all but 7. How many does she sell?",
        "She makes 24 + 18 = 42 rolls. She sells 42 - 7 = 35 of them.\n#### 35",
    ),
    (
        "A train travels 60 km per hour for 2.5 hours. How many kilometres does it travel?",
        "Distance is speed times time: 60 * 2.5 = 150 km.\n#### 150",
    ),
    (
        "Tom has 3 boxes with 12 pencils each. He gives a third of all his pencils to his sister. How many "
        "pencils does he keep?",
        "He has 3 * 12 = 36 pencils. A third is 36 / 3 = 12. He keeps 36 - 12 = 24.\n#### 24",
    ),
    (
        "What is the value of $x$ if $2x + 5 = 17$?",
        "Subtract 5 from both sides: 2x = 12. Divide by 2: x = 6.\n#### 6",
    ),
]
SOLVE_STOP = ["\n\nQuestion:", "\nQuestion:", "\n\n\n"]
CHAT_INSTRUCTION = "Solve the problem step by step. Put the final answer in \\boxed{}.\n\n"


def solve_prompt(question: str, shots: bool = True) -> str:
    """The raw few-shot prompt (fixed shots); `shots=False` is the bare form training examples use."""
    parts = [f"Question: {q}\nAnswer: {a}\n" for q, a in SOLVE_SHOTS] if shots else []
    return "\n".join(parts + [f"Question: {question.strip()}\nAnswer:"])


def chat_text(question: str) -> str:
    return CHAT_INSTRUCTION + question.strip()


def _last_boxed(text: str) -> str | None:
    i = text.rfind("\\boxed")
    while i != -1:
        j = text.find("{", i)
        if j != -1 and text[i + 6 : j].strip() == "":
            depth = 0
            for k in range(j, len(text)):
                depth += {"{": 1, "}": -1}.get(text[k], 0)
                if depth == 0:
                    return text[j + 1 : k]
        i = text.rfind("\\boxed", 0, i)
    return None


def final_answer(text: str) -> str | None:
    """The stated final answer: after the last `####`, else inside the last `\\boxed{}`; None if neither.
    The text after `####` keeps its own notation (`$1,234`, `18.0`); math-verify reads it."""
    if "####" in text:
        tail = text.rsplit("####", 1)[1].strip().splitlines()
        ans = tail[0].strip().rstrip(".") if tail else ""
        return ans or None
    boxed = _last_boxed(text)
    return boxed.strip() if boxed and boxed.strip() else None


def judged_solution(text: str) -> str:
    """The solution as judged: up to the end of its final `####` line (what follows is not part of it)."""
    i = text.rfind("####")
    if i == -1:
        return text.rstrip()
    end = text.find("\n", i)
    return text if end == -1 else text[:end]


def classify_failure(outcome: str) -> str:
    return {"different": "wrong_answer", "no_answer": "format"}.get(outcome, "undecided")


# -- proposing ---------------------------------------------------------------------------------------
HEADER = (
    "# Math word problems. Each has a question, a Python function solution() that computes the answer step by "
    "step, and the answer (a number or a simple closed form).\n"
)
EXAMPLES = [
    (
        "A farmer has 5 rows of apple trees with 8 trees in each row. Each tree gives 12 apples. He sells "
        "apples in bags of 6. How many bags can he fill?",
        "def solution():\n    trees = 5 * 8\n    apples = trees * 12\n    return apples // 6",
        "80",
    ),
    (
        "A shirt costs 40 dollars. It is on sale for 25 percent off, and then a 3 dollar coupon is applied. "
        "What is the final price in dollars?",
        "def solution():\n    sale = 40 * (1 - 0.25)\n    return sale - 3",
        "27",
    ),
    (
        "Mia reads 15 pages on Monday and twice as many on Tuesday. On Wednesday she reads 10 pages fewer "
        "than on Tuesday. How many pages does she read in the three days?",
        "def solution():\n    mon = 15\n    tue = 2 * mon\n    wed = tue - 10\n    return mon + tue + wed",
        "65",
    ),
    (
        "The sum of two numbers is 30 and their difference is 8. What is the product of the two numbers?",
        "def solution():\n    big = (30 + 8) / 2\n    small = 30 - big\n    return big * small",
        "209",
    ),
    (
        "A rectangle is 3 times as long as it is wide. Its perimeter is 48 cm. What is its area in square cm?",
        "def solution():\n    width = 48 / (2 * (3 + 1))\n    length = 3 * width\n    return length * width",
        "108",
    ),
    (
        "A tank holds 200 litres. It is filled at 12 litres per minute and drains at 4 litres per minute. "
        "Starting empty, how many minutes until it is full?",
        "def solution():\n    net = 12 - 4\n    return 200 / net",
        "25",
    ),
]
TOPICS = [
    "money",
    "time",
    "speed",
    "fractions",
    "percentages",
    "geometry",
    "shopping",
    "ages",
    "ratios",
    "work rates",
    "averages",
    "counting",
]
PROPOSE_STOP = ["\n### Problem", "\n###", "\n\n\n"]
VARIANT_ASK = {
    "harder": "a harder variant of the problem above: the same situation with one more step",
    "easier": "an easier variant of the problem above: the same situation with one step fewer",
}


def example_text(question: str, program: str, answer: str) -> str:
    return f"Question: {question.strip()}\nProgram:\n{program.rstrip()}\nAnswer: {answer.strip()}"


def own_example(problem) -> str:
    return example_text(problem.header, problem.code, problem.tests[0])


def propose_prompt(rng: random.Random, own: list | None = None, own_share: int = 2, n_examples: int = 3):
    """Raw-completion prompt: a few (question, program, answer) examples, then a new "Question:"."""
    own = list(own or [])
    rng.shuffle(own)
    mine = own[: min(own_share, n_examples - 1)]
    shipped = rng.sample(range(len(EXAMPLES)), n_examples - len(mine))
    shots = [(f"shipped:{i}", example_text(*EXAMPLES[i])) for i in shipped]
    shots += [(f"own:{p.id}", own_example(p)) for p in mine]
    rng.shuffle(shots)
    parts = [HEADER]
    for _, ex in shots:
        parts += ["### Problem", ex, ""]
    parts += [f"### Problem (topic: {rng.choice(TOPICS)})", "Question:"]
    return "\n".join(parts), [s for s, _ in shots]


def variant_prompt(rng: random.Random, parent, variant: str):
    i = rng.randrange(len(EXAMPLES))
    parts = [HEADER, "### Problem", example_text(*EXAMPLES[i]), "", "### Problem", own_example(parent), ""]
    parts += [f"### Problem ({VARIANT_ASK[variant]})", "Question:"]
    return "\n".join(parts), [f"shipped:{i}", f"own:{parent.id}"]


@dataclass
class Parsed:
    ok: bool
    reason: str = ""
    detail: str = ""
    question: str = ""
    program: str = ""
    answer: str = ""


_CLOSED_FORM = re.compile(r"^[-+]?[\d.,/ ()*^+\-\\a-z{}√π]*\d[\d.,/ ()*^+\-\\a-z{}√π]*$", re.I)


def closed_form(answer: str) -> bool:
    """A number or a short closed form (`3/4`, `2\\sqrt{3}`, `5\\pi`), not a sentence."""
    a = answer.strip().strip("$").replace("\\$", "")
    return 0 < len(a) <= 32 and bool(_CLOSED_FORM.match(a)) and len(re.findall(r"[a-z]{4,}", a.replace("\\", " "))) <= 1


def _number(text: str) -> str | None:
    t = text.strip().strip("$").replace(",", "")
    try:
        v = float(t)
    except ValueError:
        return None
    return str(int(v)) if v == int(v) else repr(v)


def trivial(question: str, answer: str) -> bool:
    """The answer appears verbatim in the question (as a number, or as the same text)."""
    num = _number(answer)
    if num is not None:
        return num in {_number(x) for x in re.findall(r"\d[\d,]*\.?\d*", question)}
    return answer.strip() in question


def parse_proposal(completion: str) -> Parsed:
    """Question (up to "Program:"), the `def solution()` block, and the line after "Answer:"."""
    text = completion.replace("\r\n", "\n")
    if "Program:" not in text:
        return Parsed(False, "no_program", "no 'Program:' section")
    question, rest = text.split("Program:", 1)
    question = question.strip()
    if question.startswith("Question:"):
        question = question[len("Question:") :].strip()
    if len(question) < 20:
        return Parsed(False, "no_question", repr(question[:80]))
    match = re.search(r"^Answer:[ \t]*(.*)$", rest, re.M)
    if not match or not match.group(1).strip():
        return Parsed(False, "no_answer", "no 'Answer:' line")
    program = rest[: match.start()].strip("\n")
    if not re.search(rf"^def {PROGRAM_NAME}\(\s*\)\s*(->[^:]*)?:", program, re.M):
        return Parsed(False, "no_program", f"no `def {PROGRAM_NAME}():`")
    answer = match.group(1).strip().rstrip(".")
    if not closed_form(answer):
        return Parsed(False, "not_closed_form", answer[:80])
    if trivial(question, answer):
        return Parsed(False, "trivial", f"the answer {answer} appears in the question")
    return Parsed(True, question=question, program=program, answer=answer)


def fingerprint(question: str) -> str:
    return hashlib.sha256(" ".join(tokens(question)).encode()).hexdigest()[:32]


def program_solution(program: str, answer: str) -> str:
    """The proposer's own checked program as a worked solution (`mine.canonical_pairs`)."""
    return f" Let me compute it step by step in Python.\n{program.rstrip()}\n#### {answer}"


# -- training formats --------------------------------------------------------------------------------
def train_solve(question: str) -> str:
    return solve_prompt(question, shots=False)


def train_repair(question: str, attempt: str) -> str:
    """problem + an attempt; the target is the review and, for a wrong one, the corrected solution."""
    return solve_prompt(question, shots=False) + " " + attempt.strip() + "\n"


def repair_target(broken: str, fixed: str) -> str:
    return REVIEW_WRONG.format(answer=final_answer(broken) or "(none)") + fixed.strip()


def keep_target(correct: str) -> str:
    return REVIEW_RIGHT.format(answer=final_answer(correct) or "")


def corrupt_answer(solution: str, seed: int = 0) -> str | None:
    """The solution with its final number changed everywhere it appears as the result (`= N`, `#### N`,
    `\\boxed{N}`): same format, a wrong answer. None when the final answer is not a plain number."""
    ans = final_answer(solution)
    num = _number(ans) if ans else None
    if num is None:
        return None
    value = float(num)
    delta = rng(seed, "math_wrong", solution).choice([1, 2, 3, 10])
    wrong = value + delta if value.is_integer() else round(value * 1.5 + delta, 2)
    new = str(int(wrong)) if float(wrong).is_integer() else str(wrong)
    out = re.sub(rf"(=\s*\$?){re.escape(ans)}\b", lambda mt: mt.group(1) + new, solution)
    out = re.sub(rf"(####\s*\$?){re.escape(ans)}", lambda mt: mt.group(1) + new, out)
    return re.sub(rf"(\\boxed\{{){re.escape(ans)}\}}", lambda mt: mt.group(1) + new + "}", out)
