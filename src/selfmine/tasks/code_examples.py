"""In-context examples that teach a BASE model the shape of a problem: a function with a docstring and a
correct body, then assert tests. Written for selfmine; deliberately unlike HumanEval/MBPP tasks."""

EXAMPLES = [
    '''def count_vowels(text: str) -> int:
    """Return how many characters of text are vowels (a, e, i, o, u), ignoring case."""
    return sum(1 for ch in text.lower() if ch in "aeiou")

assert count_vowels("Hello") == 2
assert count_vowels("") == 0
assert count_vowels("AEIOUxyz") == 5''',
    '''def running_max(values: list) -> list:
    """Return a list whose i-th item is the largest of values[0..i]."""
    out = []
    for v in values:
        out.append(v if not out else max(out[-1], v))
    return out

assert running_max([1, 3, 2, 5]) == [1, 3, 3, 5]
assert running_max([]) == []
assert running_max([-2, -5]) == [-2, -2]''',
    '''def chunk(items: list, size: int) -> list:
    """Split items into consecutive lists of length size; the last one may be shorter."""
    return [items[i:i + size] for i in range(0, len(items), size)]

assert chunk([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
assert chunk([], 3) == []
assert chunk(["a", "b"], 5) == [["a", "b"]]''',
    '''def digit_product(n: int) -> int:
    """Return the product of the decimal digits of the non-negative integer n."""
    result = 1
    for d in str(n):
        result *= int(d)
    return result

assert digit_product(234) == 24
assert digit_product(7) == 7
assert digit_product(105) == 0''',
    '''def invert_mapping(d: dict) -> dict:
    """Swap keys and values of d; when values repeat, keep the key seen last."""
    return {v: k for k, v in d.items()}

assert invert_mapping({"a": 1, "b": 2}) == {1: "a", 2: "b"}
assert invert_mapping({}) == {}
assert invert_mapping({"x": 1, "y": 1}) == {1: "y"}''',
    '''def title_words(sentence: str) -> str:
    """Capitalise the first letter of every space-separated word and lower-case the rest."""
    return " ".join(w[:1].upper() + w[1:].lower() for w in sentence.split(" "))

assert title_words("hello wORLD") == "Hello World"
assert title_words("a") == "A"
assert title_words("") == ""''',
]

TOPICS = [
    "strings",
    "lists",
    "dictionaries",
    "integers and digits",
    "sorting",
    "searching",
    "sets",
    "tuples",
    "counting",
    "prefix sums",
    "matrices as lists of lists",
    "intervals",
    "dates as tuples",
    "text parsing",
    "number theory",
    "recursion",
    "two pointers",
    "stacks",
    "simulation",
    "geometry on a grid",
]
