"""Write the tiny pair's study prompts: ``python -m training.prompts_tiny`` -> ``specdec_lite/data/prompts.jsonl``.

50 prompts per domain, 200 in all:

* **code** - Python function signatures with docstrings, written for this course; the model writes the body;
* **chat** - requests for advice, explanations and stories, written for this course (the corpus's
  dialogue templates hold only a few hundred distinct requests, all of them seen in training);
* **math**, **logic** - drawn from the corpus generators with a seed the corpus never uses. A prompt
  whose question occurs verbatim in the training corpus is skipped, so every prompt is held out.

Each prompt ends at the cue the model answers after (``Solution:``, ``Reasoning:``, ``Assistant:``).

The file is committed; a test checks that this script still writes exactly that file.
"""

from __future__ import annotations

import argparse
import json
import random

from specdec_lite.prompts import PROMPT_SETS

from .corpus import build_corpus, logic_puzzle, math_problem

PROMPTS_FILE = PROMPT_SETS["tiny"]
PER_DOMAIN = 50
PROMPT_SEED = 7919  # the corpus uses seeds 0..3 (one per domain)

CODE_TASKS = [
    ("celsius_to_fahrenheit(celsius: float) -> float", "Convert a temperature from degrees Celsius to degrees Fahrenheit."),
    ("count_vowels(text: str) -> int", "Return how many vowels (a, e, i, o, u) appear in text, ignoring case."),
    ("is_palindrome(word: str) -> bool", "Return True if word reads the same forwards and backwards."),
    ("fizzbuzz(n: int) -> list[str]", "Return the FizzBuzz sequence from 1 to n as strings."),
    ("running_total(values: list[int]) -> list[int]", "Return the cumulative sums of values."),
    ("merge_dicts(a: dict, b: dict) -> dict", "Return a new dict with the keys of a and b; b wins on conflicts."),
    ("chunk(items: list, size: int) -> list[list]", "Split items into consecutive lists of at most size elements."),
    ("word_frequencies(text: str) -> dict[str, int]", "Count how often each lower-cased word occurs in text."),
    ("flatten(nested: list[list[int]]) -> list[int]", "Concatenate the inner lists into one flat list."),
    ("second_largest(numbers: list[int]) -> int", "Return the second largest distinct value in numbers."),
    ("read_config(path: str) -> dict[str, str]", "Read key=value lines from a file, skipping blank lines and comments."),
    ("safe_divide(a: float, b: float, default: float = 0.0) -> float", "Divide a by b, returning default when b is zero."),
    ("title_case(sentence: str) -> str", "Capitalise the first letter of every word in sentence."),
    ("gcd(a: int, b: int) -> int", "Return the greatest common divisor of a and b using Euclid's algorithm."),
    ("is_prime(n: int) -> bool", "Return True if n is a prime number."),
    ("primes_below(limit: int) -> list[int]", "Return all primes smaller than limit with a simple sieve."),
    ("binary_search(items: list[int], target: int) -> int", "Return the index of target in the sorted list items, or -1."),
    ("rotate_left(items: list, k: int) -> list", "Return items rotated k places to the left."),
    ("unique_in_order(items: list) -> list", "Remove duplicates from items, keeping the first occurrence of each."),
    ("parse_duration(text: str) -> int", "Turn a duration such as '1h30m' into a number of minutes."),
    ("median(values: list[float]) -> float", "Return the median of a non-empty list of numbers."),
    ("transpose(matrix: list[list[int]]) -> list[list[int]]", "Return the transpose of a rectangular matrix."),
    ("caesar_shift(text: str, shift: int) -> str", "Shift every letter of text by shift places in the alphabet."),
    ("group_by_length(words: list[str]) -> dict[int, list[str]]", "Group words by their length."),
    ("normalize_whitespace(text: str) -> str", "Collapse runs of whitespace into single spaces and strip the ends."),
    ("factorial(n: int) -> int", "Return n factorial, computed iteratively."),
    ("fibonacci(n: int) -> list[int]", "Return the first n Fibonacci numbers."),
    ("digits_sum(n: int) -> int", "Return the sum of the decimal digits of a non-negative integer."),
    ("find_duplicates(items: list[str]) -> set[str]", "Return the items that occur more than once."),
    ("average_by_key(rows: list[dict], key: str) -> float", "Return the mean of row[key] over all rows."),
    ("load_json_lines(path: str) -> list[dict]", "Read a file with one JSON object per line."),
    ("write_csv(path: str, rows: list[list[str]]) -> None", "Write rows to a CSV file at path."),
    ("retry(func, attempts: int = 3)", "Call func until it succeeds, at most attempts times, and return its result."),
    ("clamp(value: float, low: float, high: float) -> float", "Limit value to the closed interval from low to high."),
    ("mask_email(address: str) -> str", "Hide all but the first letter of the user part of an e-mail address."),
    ("longest_word(sentence: str) -> str", "Return the longest word of sentence; the first one on ties."),
    ("matrix_multiply(a: list[list[float]], b: list[list[float]]) -> list[list[float]]", "Multiply two matrices."),
    ("to_snake_case(name: str) -> str", "Convert a CamelCase name to snake_case."),
    ("histogram(values: list[int]) -> str", "Draw a text histogram with one row of stars per value."),
    ("validate_password(password: str) -> list[str]", "Return the rules that password breaks (length, digit, upper case)."),
    ("interleave(a: list, b: list) -> list", "Alternate the elements of a and b; append the rest of the longer one."),
    ("top_k(scores: dict[str, float], k: int) -> list[str]", "Return the k keys with the highest scores."),
    ("days_between(start: str, end: str) -> int", "Return the number of days between two ISO dates."),
    ("moving_average(values: list[float], window: int) -> list[float]", "Return the averages of each window of values."),
    ("compress(text: str) -> str", "Run-length encode text, e.g. 'aaab' becomes 'a3b1'."),
    ("balanced_brackets(text: str) -> bool", "Return True if every bracket in text is closed in the right order."),
    ("pairwise_sums(numbers: list[int], target: int) -> list[tuple[int, int]]", "Return the pairs of numbers adding up to target."),
    ("class_stack_push(stack: list, item) -> None", "Push item onto the stack, refusing None values."),
    ("format_table(rows: list[dict]) -> str", "Render rows as an aligned plain-text table."),
    ("roman_to_int(numeral: str) -> int", "Convert a Roman numeral such as 'XIV' to an integer."),
]


CHAT_REQUESTS = [
    "How can I stop procrastinating on my homework?",
    "What should I pack for a weekend camping trip?",
    "Can you explain how a bicycle stays upright?",
    "Tell me a short story about a dragon who is afraid of the dark.",
    "How do I ask my manager for a raise?",
    "What is the difference between weather and climate?",
    "Do you have any tips for drinking more water during the day?",
    "Please explain what a credit score is.",
    "Could you write a story about a snowman who wants to see the summer?",
    "How can I be a better listener?",
    "What is a good way to learn to play the guitar?",
    "Can you explain why the sky is blue?",
    "How do I clean a cast iron pan?",
    "Tell me a short story about a girl who finds a talking tree.",
    "What are some healthy snacks for work?",
    "Please explain how a refrigerator keeps food cold.",
    "How can I make my small flat feel bigger?",
    "What should I say when I meet my partner's parents for the first time?",
    "Can you explain what an atom is?",
    "How do I start a vegetable garden on a balcony?",
    "Tell me a short story about a pirate who loses his map.",
    "How can I get better at public speaking?",
    "What is a budget and how do I make one?",
    "Please explain how bees make honey.",
    "How do I stay motivated when I work from home?",
    "Could you write a story about a clock that stops on purpose?",
    "What are good habits for a healthy back?",
    "Can you explain what the internet is?",
    "How should I prepare for a long flight?",
    "Tell me a short story about two friends who build a raft.",
    "How can I help a friend who is feeling sad?",
    "What is the best way to remember names?",
    "Please explain why leaves change colour in autumn.",
    "How do I write a thank-you note?",
    "Can you explain how a plane flies?",
    "How can I spend less time on my phone?",
    "Tell me a short story about a robot who learns to paint.",
    "What should I do before adopting a dog?",
    "Please explain what a volcano is.",
    "How can I make my mornings less rushed?",
    "Could you write a story about a cloud that wants to become rain?",
    "How do I choose a good book to read?",
    "Can you explain what electricity is?",
    "What are some tips for a first day at a new job?",
    "How can I keep my kitchen tidy?",
    "Tell me a short story about an owl who cannot sleep at night.",
    "Please explain how the moon changes shape.",
    "How do I apologise to a friend after an argument?",
    "What is a good routine before going to bed?",
    "Can you explain what a recipe's 'pinch of salt' means?",
]


def code_prompts() -> list[str]:
    return [f'def {signature}:\n    """{doc}"""\n' for signature, doc in CODE_TASKS]


def generated_prompts(make, cue_first: str, cue_second: str, seen: set[str], rng: random.Random) -> list[str]:
    """``PER_DOMAIN`` distinct questions from ``make`` that the corpus does not contain."""
    prompts: list[str] = []
    while len(prompts) < PER_DOMAIN:
        question, _ = make(rng)
        text = f"{cue_first}: {question}\n{cue_second}:"
        if question not in seen and text not in prompts:
            prompts.append(text)
    return prompts


def build_prompts() -> list[dict]:
    corpus = build_corpus()
    seen = {line.split(": ", 1)[1] for dom in ("math", "logic") for split in corpus[dom].values()
            for doc in split for line in doc.splitlines()[:1]}
    rng = random.Random(PROMPT_SEED)
    by_domain = {
        "code": code_prompts(),
        "math": generated_prompts(math_problem, "Problem", "Solution", seen, rng),
        "logic": generated_prompts(logic_puzzle, "Puzzle", "Reasoning", seen, rng),
        "chat": [f"User: {request}\nAssistant:" for request in CHAT_REQUESTS],
    }
    return [
        {"id": f"{domain}-{i + 1:03d}", "domain": domain, "prompt": prompt}
        for domain, prompts in by_domain.items() for i, prompt in enumerate(prompts)
    ]


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    records = build_prompts()
    PROMPTS_FILE.write_text("".join(json.dumps(r) + "\n" for r in records))
    print(f"wrote {len(records)} prompts to {PROMPTS_FILE}")


if __name__ == "__main__":
    main()
