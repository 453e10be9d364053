"""Course-written user instructions for distilling the SmolLM2 draft.

The draft of the SmolLM2 pair learns by imitating its target: the target (SmolLM2-135M-Instruct)
answers a few thousand user requests, and the draft is trained to predict the target's answers token
by token (see :mod:`training.train_smol`). This module writes those requests.

:func:`training_instructions` returns ``per_domain`` requests for each of the study's four domains
(code, math, logic, chat), built by combining hand-written lists of tasks, phrasings, names, numbers
and topics with one seeded ``random.Random``. The same seed always gives the same list. The requests
try to look like what people actually type to a chat assistant: some are one short line, some are a
paragraph with context; some are polite, some are terse.

None of these requests is one of the study's prompts (``specdec_lite/data/prompts_chat.jsonl``):
``python -m training.prompts_chat`` checks that the two sets share no prompt and no run
of 12 words, so the study measures the draft on requests it never saw in training.

Run ``python -m training.instructions`` to print the counts and a few examples.
"""

from __future__ import annotations

import argparse
import random
from itertools import permutations

from specdec_lite.prompts import DOMAINS

# ---------------------------------------------------------------------------------------------------
# Shared word lists
# ---------------------------------------------------------------------------------------------------

NAMES = [
    "Alice", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Keiko",
    "Liam", "Maya", "Nikhil", "Olga", "Pablo", "Quinn", "Rosa", "Samir", "Tara", "Umar", "Vera",
    "Wei", "Ximena", "Yusuf", "Zoe", "Anton", "Bea", "Carlos", "Dana", "Emeka", "Freya", "Gustavo",
    "Hana", "Ivan", "Julia", "Kofi", "Lena", "Marco", "Nora",
]


def _people(r: random.Random, k: int) -> list[str]:
    return r.sample(NAMES, k)


def _money(x: float) -> str:
    return f"{x:.2f}"


def _join(items: list[str]) -> str:
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]


# ---------------------------------------------------------------------------------------------------
# Code
# ---------------------------------------------------------------------------------------------------

CODE_TASKS = [
    "checks whether a string is a palindrome, ignoring spaces, punctuation and case",
    "counts how many times the letter '{ch}' appears in a piece of text",
    "returns the {k} largest numbers of a list in descending order",
    "removes duplicate items from a list while keeping the original order",
    "reverses the order of the words in a sentence",
    "merges two sorted lists into one sorted list without calling sort",
    "finds the most common word in a text file called {file}",
    "converts a temperature from Fahrenheit to Celsius, rounded to {d} decimal places",
    "splits a list into chunks of {k} elements each",
    "returns every prime number smaller than {big}",
    "flattens a list that may contain nested lists of any depth",
    "checks whether two words are anagrams of each other",
    "counts the lines, words and characters in the file {file}",
    "returns the number of days between two dates written like '2023-07-14'",
    "tells whether a given year is a leap year",
    "swaps the keys and values of a dictionary",
    "computes the factorial of a number recursively",
    "returns the n-th Fibonacci number using a loop instead of recursion",
    "capitalizes the first letter of every word in a string",
    "finds the second smallest value in a list of integers",
    "groups a list of words by their first letter",
    "adds up all the even numbers in a list",
    "checks that a password has at least {k} characters, one digit and one upper-case letter",
    "returns the longest common prefix of a list of strings",
    "turns a number of seconds into a string such as '2h 05m 09s'",
    "reads a CSV file named {csv} and returns the average of the column '{col}'",
    "returns True when every bracket in a string is closed in the right order",
    "computes the greatest common divisor of two integers",
    "converts a positive integer into Roman numerals",
    "rotates a list {k} positions to the right",
    "finds all pairs of numbers in a list whose sum is {n}",
    "returns the median of a list of numbers",
    "converts a snake_case identifier to camelCase",
    "removes every vowel from a string",
    "returns the words of a sentence that have more than {k} letters",
    "counts how often each character occurs in a string and returns a dictionary",
    "checks whether an integer is a perfect square without using floating point numbers",
    "generates a random password of {k2} characters made of letters and digits",
    "saves a list of dictionaries to a JSON file",
    "returns the weekday name for a date given as year, month and day",
    "returns the running totals of a list of numbers",
    "finds the one number missing from a list that should hold every integer from 1 to {n}",
    "returns the common elements of two lists, without duplicates",
    "checks whether a string looks like a valid e-mail address",
    "turns a binary string such as '10110' into an integer without calling int(x, 2)",
    "returns the squares of the odd numbers from 1 to {n}",
    "computes compound interest from a principal, a yearly rate and a number of years",
    "finds the position of the first character that repeats in a string",
    "sorts a list of (name, age) tuples by age, and by name when ages are equal",
    "counts the words in a sentence that start with a capital letter",
    "deletes every file ending in {ext} inside a given folder",
    "transposes a matrix stored as a list of lists",
    "checks whether a list is sorted in ascending order",
    "does a binary search on a sorted list and returns the index of the target, or -1",
    "computes the average word length of a text",
    "returns the {k} most frequent elements of a list",
    "compresses a string with run-length encoding, so 'aaabcc' becomes 'a3b1c2'",
    "parses a line like 'name=Ada; age=36; city=Lima' into a dictionary",
    "returns the sum of the digits of a positive integer",
    "converts every value in a list from kilometres to miles",
    "finds the longest word in the file {file}",
    "checks whether a string contains only digits and at most one decimal point",
    "counts the weekdays (Monday to Friday) between two dates",
    "shuffles a list in place with the Fisher-Yates algorithm",
    "turns a list of exam scores into a dictionary that counts how many got each letter grade",
    "strips the whitespace at both ends of every line of a text file and writes the result back",
    "computes the distance between two points given as (x, y) tuples",
    "returns every substring of length {k} of a string",
    "finds the largest sum of {k} consecutive elements of a list",
    "checks whether a sentence uses every letter of the alphabet at least once",
    "works out someone's age in whole years from their birth date",
    "hides all but the last four digits of a card number with '*' characters",
    "returns the list of all divisors of a positive integer",
    "counts how many times each word appears in {file} and prints the top {k}",
    "converts a list of strings to integers, skipping the ones that are not valid numbers",
]

CODE_WRITE_PY = [
    "Write a Python function that {t}.",
    "Write a function in Python which {t}. Add a docstring and one example call.",
    "Can you write a Python function that {t}?",
    "I need a small Python helper that {t}. Please keep it readable.",
    "Show me how to write a Python function that {t}, and explain how it works.",
    "Python question: how do I write a function that {t}?",
    "Give me a short Python 3 function that {t}. No external libraries, please.",
    "Write a Python function that {t}. Include a few test cases written with assert.",
    "I'm learning Python. Could you write a function that {t} and walk me through it line by line?",
    "For a school assignment I have to write a function that {t}. Can you help? It has to be Python.",
    "write python code that {t}",
    "Please implement, in Python, a function that {t}. Mention its time complexity too.",
    "Write the simplest possible Python function that {t}. Then suggest one way to make it faster.",
    "My boss wants a script with a function that {t}. Can you write it in Python with type hints?",
]

CODE_WRITE_JS = [
    "Write a JavaScript function that {t}.",
    "How would I write a function in JavaScript that {t}?",
    "Can you give me a JS function that {t}? I'm using Node.",
]

CODE_FIX = [
    ("add up the numbers in a list",
     "def total(values):\n    result = 0\n    for v in values:\n        result = v\n    return result"),
    ("return the largest number in a list",
     "def biggest(nums):\n    best = 0\n    for n in nums:\n        if n > best:\n            best = n\n    return best"),
    ("count the vowels in a word",
     "def vowels(word):\n    count = 0\n    for ch in word:\n        if ch in 'aeiou':\n            count += 1\n        return count"),
    ("return the average of a list",
     "def mean(xs):\n    return sum(xs) / len(xs) - 1"),
    ("reverse a string",
     "def backwards(s):\n    out = ''\n    for i in range(len(s)):\n        out += s[i]\n    return out"),
    ("check whether a number is prime",
     "def is_prime(n):\n    for d in range(2, n):\n        if n % d == 0:\n            return False\n    return True"),
    ("append an item to a fresh list each time it is called",
     "def add_item(item, bucket=[]):\n    bucket.append(item)\n    return bucket"),
    ("return the last element of a list",
     "def last(items):\n    return items[len(items)]"),
    ("read all the lines of a file",
     "def read_lines(path):\n    f = open(path)\n    lines = f.readlines\n    return lines"),
    ("compute n factorial",
     "def fact(n):\n    if n == 0:\n        return 0\n    return n * fact(n - 1)"),
    ("remove the even numbers from a list",
     "def drop_even(nums):\n    for n in nums:\n        if n % 2 == 0:\n            nums.remove(n)\n    return nums"),
    ("return True if a key exists in a dictionary",
     "def has_key(d, key):\n    for k in d.values():\n        if k == key:\n            return True\n    return False"),
    ("print the numbers from 1 to 10",
     "for i in range(10):\n    print(i)"),
    ("count how many words a sentence has",
     "def word_count(text):\n    return len(text.split(' ')) + 1"),
    ("build a greeting for a user",
     "def greet(name, age):\n    return 'Hello ' + name + ', you are ' + age + ' years old'"),
]

CODE_FIX_PHRASES = [
    "This function should {goal}, but it gives the wrong answer. Can you fix it?\n\n```python\n{code}\n```",
    "Fix the bug in this code:\n\n```python\n{code}\n```",
    "Why doesn't this work? It is supposed to {goal}.\n\n{code}",
    "My code is meant to {goal} but something is off. What's wrong and how do I correct it?\n\n```python\n{code}\n```",
]

CODE_EXPLAIN = [
    "print([x * x for x in range(6) if x % 2 == 1])",
    "words = 'the cat sat on the mat'.split()\ncounts = {}\nfor w in words:\n    counts[w] = counts.get(w, 0) + 1\nprint(counts)",
    "def f(n):\n    return 1 if n <= 1 else n * f(n - 1)\nprint(f(5))",
    "a = [1, 2, 3]\nb = a\nb.append(4)\nprint(a)",
    "print(sorted(['pear', 'fig', 'banana'], key=len))",
    "x = 10\ndef g():\n    x = 5\n    return x\nprint(g(), x)",
    "nums = [3, 8, 1, 9]\nprint(max(range(len(nums)), key=lambda i: nums[i]))",
    "with open('notes.txt') as fh:\n    for number, line in enumerate(fh, start=1):\n        print(number, line.rstrip())",
    "pairs = list(zip('abc', [1, 2, 3]))\nprint(dict(pairs))",
    "s = 'hello world'\nprint(s[::-1], s[:5], s[-5:])",
    "result = [[0] * 3 for _ in range(2)]\nresult[0][1] = 7\nprint(result)",
    "from collections import Counter\nprint(Counter('mississippi').most_common(2))",
    "const total = [4, 5, 6].reduce((acc, v) => acc + v, 0);\nconsole.log(total);",
    "SELECT city, COUNT(*) AS n\nFROM customers\nGROUP BY city\nHAVING COUNT(*) > 5\nORDER BY n DESC;",
    "def gen():\n    yield 1\n    yield 2\nfor v in gen():\n    print(v)",
    "try:\n    value = int('12a')\nexcept ValueError:\n    value = -1\nprint(value)",
]

CODE_EXPLAIN_PHRASES = [
    "Explain what this code does:\n\n{code}",
    "What does the following code print, and why?\n\n```\n{code}\n```",
    "Can you go through this snippet line by line?\n\n{code}",
    "I found this in a project and don't understand it. What is it doing?\n\n```\n{code}\n```",
]

CODE_CLASSES = [
    ("Stack", "supports push, pop, peek and an is_empty check"),
    ("Queue", "uses two lists internally and supports enqueue and dequeue"),
    ("BankAccount", "keeps a balance, allows deposits and withdrawals, and refuses to go below zero"),
    ("Rectangle", "stores width and height and has methods for area, perimeter and whether it is a square"),
    ("TodoList", "lets you add tasks, mark them done and list the ones still open"),
    ("Temperature", "stores a value in Celsius and has properties that return it in Fahrenheit and Kelvin"),
    ("Inventory", "tracks item names and quantities and warns when an item runs low"),
    ("Counter", "counts up and down, can be reset, and never goes negative"),
    ("Student", "holds a name and a list of grades and can report the average grade"),
    ("LinkedList", "supports append, prepend, find and removing a value"),
    ("Timer", "can be started and stopped and reports the elapsed seconds"),
    ("LRUCache", "holds at most a fixed number of items and drops the least recently used one"),
    ("Library", "manages books that members can borrow and return"),
    ("Matrix", "supports addition, multiplication and printing as a grid"),
]

CODE_CLASS_PHRASES = [
    "Implement a Python class `{name}` that {desc}.",
    "Write a class called {name} in Python that {desc}. Show a short usage example.",
    "Can you design a simple {name} class that {desc}? Use Python and add docstrings.",
]

CODE_COMPLETE = [
    "def is_even(n: int) -> bool:\n    \"\"\"Return True when n is even.\"\"\"",
    "def word_lengths(words: list[str]) -> dict[str, int]:\n    \"\"\"Map each word to its length.\"\"\"",
    "def celsius_table(start: int, stop: int) -> list[tuple[int, float]]:\n    \"\"\"Pairs of (celsius, fahrenheit) for each whole degree from start to stop.\"\"\"",
    "def initials(full_name: str) -> str:\n    \"\"\"Return the initials of a name, e.g. 'Ada Lovelace' -> 'A.L.'\"\"\"",
    "def count_positive(values: list[float]) -> int:\n    \"\"\"How many values are strictly greater than zero.\"\"\"",
    "def safe_get(items: list, index: int, default=None):\n    \"\"\"Return items[index], or default when the index is out of range.\"\"\"",
    "def percent_change(old: float, new: float) -> float:\n    \"\"\"Percentage change from old to new.\"\"\"",
    "def only_letters(text: str) -> str:\n    \"\"\"Keep just the alphabetic characters of text.\"\"\"",
    "def pairwise_differences(xs: list[int]) -> list[int]:\n    \"\"\"Differences between neighbouring elements.\"\"\"",
    "def dedupe_emails(emails: list[str]) -> list[str]:\n    \"\"\"Remove duplicate addresses, ignoring case, keeping the first spelling.\"\"\"",
    "def bmi(weight_kg: float, height_m: float) -> float:\n    \"\"\"Body mass index rounded to one decimal.\"\"\"",
    "def last_n_lines(path: str, n: int) -> list[str]:\n    \"\"\"The final n lines of a text file.\"\"\"",
    "function capitalize(word) {\n  // return word with its first letter in upper case",
    "function sumOdd(numbers) {\n  // return the sum of the odd numbers in the array",
]

CODE_COMPLETE_PHRASES = [
    "Complete this function:\n\n{code}",
    "Finish the code below.\n\n```\n{code}\n```",
    "Fill in the body of this function, please:\n\n{code}",
]

SQL_TASKS = [
    "lists the {k} customers who spent the most, given a table orders(customer_id, amount)",
    "counts the employees in each department, from employees(id, name, department)",
    "finds the products that have never been ordered, using products(id, name) and order_items(order_id, product_id)",
    "returns the average salary per job title, but only for titles with at least {k} people",
    "shows every order placed in {year}, newest first, from orders(id, placed_at, total)",
    "finds duplicate e-mail addresses in a users(id, email) table",
    "returns the second highest price in a products(id, price) table",
    "joins students(id, name) and grades(student_id, course, grade) and shows each student's best grade",
    "deletes the rows of a sessions(id, user_id, last_seen) table that are older than {k} days",
    "computes the monthly revenue for {year} from payments(id, paid_on, amount)",
    "lists the cities that have more than {k} customers, from customers(id, city)",
    "updates the price of every product in the category 'garden' by {pct} percent",
]

SQL_PHRASES = [
    "Write a SQL query that {t}.",
    "How do I write an SQL query that {t}?",
    "SQL help: I need a query that {t}. I'm on PostgreSQL.",
]

CODE_CONCEPTS = [
    "What is the difference between a list and a tuple in Python?",
    "Explain what a Python decorator is, with a small example.",
    "When should I use a dictionary instead of a list?",
    "What does the `yield` keyword do in Python?",
    "Can you explain recursion with a simple example?",
    "What is the difference between `==` and `is` in Python?",
    "How do list comprehensions work? Show me three examples.",
    "What is a virtual environment in Python and why would I use one?",
    "Explain Big-O notation in simple words.",
    "What is the difference between `let`, `const` and `var` in JavaScript?",
    "How does a hash table work?",
    "What is the difference between an INNER JOIN and a LEFT JOIN in SQL?",
    "Why are global variables often considered bad practice?",
    "How do I read a file line by line in Python without loading it all into memory?",
    "What are *args and **kwargs in Python?",
    "Explain the difference between a process and a thread.",
    "How do I handle exceptions properly in Python?",
    "What is the point of writing unit tests?",
    "What does it mean for a function to be pure?",
    "How is a stack different from a queue?",
]

CODE_CONCEPT_SUFFIX = ["", " Keep it short.", " I'm a beginner.", " Please include a code example.",
                       " Explain it like I'm new to programming."]

FILES = ["notes.txt", "data.txt", "report.txt", "log.txt", "essay.txt", "input.txt", "words.txt"]
CSVS = ["sales.csv", "grades.csv", "weather.csv", "expenses.csv", "measurements.csv"]
COLUMNS = ["price", "score", "temperature", "amount", "height", "duration"]


def _code_values(r: random.Random) -> dict:
    return {
        "ch": r.choice("aeiostnrl"), "k": r.randint(2, 9), "k2": r.randint(8, 20), "d": r.randint(1, 3),
        "big": r.choice([50, 100, 200, 500, 1000, 10000]), "n": r.randint(10, 100),
        "file": r.choice(FILES), "csv": r.choice(CSVS), "col": r.choice(COLUMNS),
        "ext": r.choice([".tmp", ".log", ".bak", ".pyc"]), "year": r.randint(2015, 2024),
        "pct": r.choice([5, 10, 15, 20]),
    }


def _code(r: random.Random) -> str:
    v = _code_values(r)
    kind = r.choices(["py", "js", "fix", "explain", "class", "complete", "sql", "concept"],
                     weights=[46, 6, 10, 10, 8, 7, 6, 7])[0]
    if kind in ("py", "js"):
        task = r.choice(CODE_TASKS).format(**v)
        return r.choice(CODE_WRITE_PY if kind == "py" else CODE_WRITE_JS).format(t=task)
    if kind == "fix":
        goal, code = r.choice(CODE_FIX)
        return r.choice(CODE_FIX_PHRASES).format(goal=goal, code=code)
    if kind == "explain":
        return r.choice(CODE_EXPLAIN_PHRASES).format(code=r.choice(CODE_EXPLAIN))
    if kind == "class":
        name, desc = r.choice(CODE_CLASSES)
        return r.choice(CODE_CLASS_PHRASES).format(name=name, desc=desc)
    if kind == "complete":
        return r.choice(CODE_COMPLETE_PHRASES).format(code=r.choice(CODE_COMPLETE))
    if kind == "sql":
        return r.choice(SQL_PHRASES).format(t=r.choice(SQL_TASKS).format(**v))
    return r.choice(CODE_CONCEPTS) + r.choice(CODE_CONCEPT_SUFFIX)


# ---------------------------------------------------------------------------------------------------
# Math
# ---------------------------------------------------------------------------------------------------

ITEMS = ["notebooks", "apples", "pens", "mugs", "tickets", "sandwiches", "candles", "plants",
         "t-shirts", "bottles of juice", "packs of stickers", "muffins"]
CITIES_SHORT = ["the next town", "the coast", "the airport", "the lake", "the city centre"]


def _frac(r: random.Random) -> str:
    den = r.choice([2, 3, 4, 5, 6, 8, 10, 12])
    num = r.choice([k for k in range(1, den) if all(k % p or den % p for p in (2, 3, 5))])
    return f"{num}/{den}"


def _math_values(r: random.Random) -> dict:
    name, name2, name3 = _people(r, 3)
    a, b, c = r.sample(range(2, 10), 3)
    x0 = r.randint(-6, 15)
    triple = r.choice([(3, 4, 5), (6, 8, 10), (5, 12, 13), (8, 15, 17), (9, 12, 15), (7, 24, 25)])
    money = 12 * r.randint(3, 25)
    coins = r.randint(12, 40)
    nick = r.randint(2, coins - 2)
    scores = [r.randint(55, 98) for _ in range(r.randint(3, 5))]
    pages = r.randint(12, 40)
    days = r.randint(3, 9)
    fee, per_gb, gb = r.choice([15, 20, 25, 30]), r.choice([2, 3, 4, 5]), r.randint(2, 12)
    width = r.randint(3, 20)
    agediff = r.randint(2, 12)
    young = r.randint(8, 40)
    k = r.randint(3, 6)
    avg = r.randint(10, 60)
    s1, s2 = r.sample([10, 12, 15, 18, 20, 24, 30], 2)
    return {
        "name": name, "name2": name2, "name3": name3, "item": r.choice(ITEMS),
        "a": a, "b": b, "c": c, "m": r.randint(11, 49), "n": r.randint(50, 99),
        "big": r.randint(12, 96) * 10, "pct": r.choice([5, 10, 12, 15, 20, 25, 30, 35, 40, 45, 60, 75]),
        "tax": r.choice([5, 7, 8, 10, 20]), "price": _money(r.choice([0.75, 1.25, 1.5, 2, 2.25, 2.75, 3.5, 4, 4.75])),
        "bill": r.choice([50, 100]), "speed": r.randint(8, 24) * 5, "speed2": r.randint(8, 24) * 5,
        "hours": r.randint(2, 6), "hours2": r.randint(10, 40), "minutes": r.choice([15, 20, 30, 40, 45]),
        "dist": r.randint(8, 80) * 5, "dist3": r.randint(8, 60) * 100, "x0": x0,
        "lin_c": a * x0 + b, "c2": a * (x0 - b), "d_side": a * x0 - b - c * x0,
        "age": r.randint(6, 15), "gap": r.randint(20, 40), "length": r.randint(4, 30), "width": width,
        "depth": r.randint(2, 15), "radius": r.randint(2, 15),
        "servings": r.randint(2, 6), "new_servings": r.randint(7, 12), "grams": r.randint(10, 40) * 10,
        "eggs": r.randint(2, 4), "rate": r.choice([2, 3, 4, 5, 6, 8]), "years": r.randint(2, 8),
        "principal": r.choice([500, 800, 1000, 1200, 1500, 2000, 2500, 5000]),
        "frac1": _frac(r), "frac2": _frac(r), "scores": _join([str(s) for s in scores]),
        "fuel": r.choice([4.5, 5, 6, 6.5, 7, 8, 9.5]), "fuelprice": _money(r.choice([1.4, 1.55, 1.7, 1.85, 2.1])),
        "tag": r.randint(12, 90), "p_old": r.randint(20, 80) * 10, "p_new": 0,
        "walk": r.choice([3, 4, 5, 6]), "wmin": r.choice([12, 15, 18, 20, 24, 30, 36]),
        "classsize": r.choice([20, 40, 60]), "cons_sum": 3 * r.randint(5, 90) + 3,
        "fee": fee, "per_gb": per_gb, "bill_total": fee + per_gb * gb,
        "pages": pages, "days": days, "bookpages": pages * days + r.randint(20, 300),
        "pp": _money(r.choice([3, 4, 5, 6])), "pi": _money(r.choice([0.8, 0.9, 1.1, 1.25])), "need": r.randint(11, 30),
        "a2": r.choice([2, 3, 4, 6, 8, 10]), "k": k, "avg": avg, "avg2": avg + r.randint(1, 5),
        "lad": triple[2], "foot": triple[0], "temp_c": r.choice([-10, 0, 12, 18, 25, 30, 37, 100]),
        "perim": 2 * (2 * width + a), "wage": r.choice([12, 14, 15, 18, 20, 22, 25]),
        "goal": r.choice([500, 800, 1000, 1500, 2000]), "red": r.randint(2, 9), "blue": r.randint(2, 9),
        "green": r.randint(2, 9), "dice_total": r.randint(2, 12), "a3": r.randint(4, 18), "b3": r.randint(6, 24),
        "sx": 2 * x0 + 2 * a, "dx": 2 * a, "pop": r.choice([50, 100, 200, 250, 500]), "dbl": r.choice([2, 3, 4, 5]),
        "laptop": r.randint(6, 20) * 100, "dep": r.choice([10, 15, 20, 25]), "slices": r.choice([8, 10, 12]),
        "e1": r.randint(1, 3), "e2": r.randint(2, 4), "lpm": r.choice([6, 8, 10, 12, 15]),
        "tub": r.randint(10, 25) * 10, "n100": r.choice([20, 50, 100, 150, 200, 1000]),
        "ang1": r.randint(20, 80), "ang2": r.randint(20, 80), "decimal": round(r.uniform(1, 99), 3),
        "scale": r.choice([25000, 50000, 100000, 250000]), "mapcm": r.randint(3, 24),
        "laps": r.randint(4, 25), "track": r.choice([200, 400]),
        "adult": r.choice([9, 10, 12, 14]), "child": r.choice([5, 6, 7, 8]), "na": r.randint(1, 2), "nc": r.randint(1, 4),
        "time1": f"{r.randint(6, 20)}:{r.choice(['05', '15', '20', '40', '45', '50'])}",
        "jh": r.randint(1, 5), "jm": r.choice([10, 25, 35, 50, 55]),
        "agesum": 2 * young + agediff, "agediff": agediff,
        "cost": r.randint(5, 40), "sell": 0, "coins": coins, "value": _money(0.05 * nick + 0.10 * (coins - nick)),
        "sq": r.randint(4, 30) ** 2, "nsq": r.randint(20, 300), "money": money,
        "d1": r.randint(4, 20) * 5, "d2": r.randint(4, 20) * 5, "s1": s1, "s2": s2,
        "rope": r.randint(10, 60), "piece": r.choice([0.75, 1.5, 2.5, 3, 4]),
        "yes": r.randint(20, 180), "total": r.randint(200, 400), "dest": r.choice(CITIES_SHORT),
        "first": r.randint(1, 20), "step": r.randint(2, 9), "ratio": r.choice([2, 3]),
    }


MATH_TEMPLATES = [
    "{name} buys {a} {item} at ${price} each and pays with a ${bill} note. How much change should {name} get?",
    "A train travels at {speed} km/h. How far does it go in {hours} hours and {minutes} minutes?",
    "What is {pct}% of {big}?",
    "Solve for x: {a}x + {b} = {lin_c}",
    "{name} is {age} years old and their aunt is {gap} years older. In how many years will the aunt be "
    "exactly twice as old as {name}?",
    "A rectangular garden measures {length} m by {width} m. A path 1 m wide runs all the way around the "
    "outside. What is the area of the path?",
    "A recipe for {servings} people uses {grams} g of flour and {eggs} eggs. How much flour and how many "
    "eggs are needed for {new_servings} people?",
    "You deposit ${principal} in an account that pays {rate}% interest per year, compounded once a year. "
    "How much money is in the account after {years} years?",
    "What is {frac1} + {frac2}? Give the answer as a fraction in lowest terms.",
    "{name} scored {scores} on the tests so far. What is the average score?",
    "Convert {dist} kilometres to miles (1 mile is about 1.609 km).",
    "A jacket costs ${tag} and is marked {pct}% off. What is the sale price? If {tax}% sales tax is added "
    "afterwards, what does {name} pay in the end?",
    "A car uses {fuel} litres of fuel per 100 km. How much fuel does a {dist} km trip need, and what does "
    "it cost at ${fuelprice} per litre?",
    "{name} and {name2} split ${big} in the ratio {a}:{b}. How much does each of them get?",
    "One pipe can fill a tank in {a} hours and a second pipe can fill it in {b} hours. How long does it "
    "take to fill the tank with both pipes running?",
    "The price of a bicycle went from ${p_old} to ${p_new}. By what percentage did it increase?",
    "A circle has a radius of {radius} cm. Find its circumference and its area, using 3.14 for pi.",
    "{name} walks to school at {walk} km/h and the walk takes {wmin} minutes. How far away is the school?",
    "Two cars start {dist} km apart and drive towards each other at {speed} km/h and {speed2} km/h. How "
    "long until they meet?",
    "In a class of {classsize} pupils, {pct}% cycle to school and the others take the bus. How many take "
    "the bus?",
    "Solve for x: {a}(x - {b}) = {c2}",
    "Three consecutive whole numbers add up to {cons_sum}. What are they?",
    "A phone plan costs ${fee} a month plus ${per_gb} for each gigabyte of data. {name}'s bill last month "
    "was ${bill_total}. How many gigabytes did {name} use?",
    "A box is {length} cm long, {width} cm wide and {depth} cm high. What is its volume, and what is its "
    "total surface area?",
    "{name} reads {pages} pages a day of a book with {bookpages} pages. How many pages are left after "
    "{days} days, and how many more days will it take to finish?",
    "Pens cost ${pi} each, or ${pp} for a pack of {a}. What is the cheapest way to buy exactly {need} "
    "pens, and what does it cost?",
    "What is {frac1} of {big}?",
    "A plane flies {dist3} km in {hours} hours. What is its average speed in km/h, and in metres per second?",
    "If {a} workers can paint a fence in {days} days, how long would {a2} workers take, working at the "
    "same rate?",
    "The average of {k} numbers is {avg}. After one more number is added, the average is {avg2}. What "
    "number was added?",
    "A {lad} m ladder leans against a wall with its foot {foot} m from the wall. How high up the wall "
    "does the top reach?",
    "Convert {temp_c} degrees Celsius to degrees Fahrenheit.",
    "How many minutes are there in {days} days? And how many seconds?",
    "A rectangle's perimeter is {perim} cm and it is {a} cm longer than it is wide. What are its length "
    "and width?",
    "{name} earns ${wage} an hour and works {hours2} hours a week, putting {pct}% of the pay into savings. "
    "How many weeks will it take to save ${goal}?",
    "A bag holds {red} red, {blue} blue and {green} green marbles. If one is drawn at random, what is the "
    "probability that it is not blue?",
    "Two fair dice are rolled. What is the probability that the numbers add up to {dice_total}?",
    "What is the least common multiple of {a3} and {b3}? And their greatest common divisor?",
    "Expand and simplify (x + {a})(x - {b}).",
    "Solve the system of equations: x + y = {sx} and x - y = {dx}.",
    "A colony of {pop} bacteria doubles every {dbl} hours. How many bacteria are there after {hours2} hours?",
    "{name} bought a laptop for ${laptop}. It loses {dep}% of its value every year. What is it worth "
    "after 3 years?",
    "A pizza is cut into {slices} equal slices. {name} eats {e1} and {name2} eats {e2}. What fraction of "
    "the pizza is left, and what percentage is that?",
    "A tap runs at {lpm} litres per minute. How long does it take to fill a bathtub that holds {tub} litres?",
    "What is the sum of all the whole numbers from 1 to {n100}?",
    "Two angles of a triangle are {ang1} and {ang2} degrees. What is the third angle?",
    "Round {decimal} to the nearest tenth and to the nearest whole number.",
    "A map uses a scale of 1:{scale}. Two villages are {mapcm} cm apart on the map. How far apart are they "
    "in real life, in kilometres?",
    "{name} runs {laps} laps of a {track} m track. How many kilometres is that?",
    "Cinema tickets cost ${adult} for adults and ${child} for children. How much do {na} adults and {nc} "
    "children pay altogether?",
    "Write {big} divided by {c} as a mixed number.",
    "The side of a square grows by {pct}%. By what percentage does its area grow?",
    "Find x if {a}x - {b} = {c}x + {d_side}.",
    "A bus leaves at {time1} and the trip takes {jh} hours and {jm} minutes. What time does it arrive?",
    "{name} and {name2} have ages that add up to {agesum}, and {name} is {agediff} years older. How old "
    "is each of them?",
    "A toy costs ${cost} to make and sells for ${sell}. What is the profit as a percentage of the cost?",
    "In how many different orders can {k} people stand in a queue?",
    "A jar holds {coins} coins, all nickels or dimes, worth ${value} in total. How many of each are there?",
    "What is the square root of {sq}?",
    "{name} has ${money}. A third of it goes on food, then a quarter of what is left goes on books. How "
    "much money does {name} have left?",
    "A cyclist rides {d1} km at {s1} km/h and then {d2} km at {s2} km/h. What is the average speed for "
    "the whole ride?",
    "Write {frac1} as a decimal and as a percentage.",
    "A rope {rope} m long is cut into pieces {piece} m long. How many whole pieces are there, and how "
    "much rope is left over?",
    "In a survey, {yes} out of {total} people said yes. What percentage is that, to one decimal place?",
    "The first term of an arithmetic sequence is {first} and each term is {step} more than the last. "
    "What is the 20th term, and what is the sum of the first 20 terms?",
    "What are the next three numbers in the sequence {first}, {seq2}, {seq3}, {seq4}, ...?",
    "A shop sells {item}. On Monday it sells {m}, on Tuesday {a} more than on Monday, and on Wednesday "
    "twice as many as on Tuesday. How many did it sell over the three days?",
    "{name} drives to {dest} at {speed} km/h and returns at {speed2} km/h. The trip out takes {hours} "
    "hours. How long does the way back take?",
    "{name} has {n} stickers and gives {pct}% of them to {name2}, then {b} more to {name3}. How many are "
    "left?",
]

MATH_PREFIX = ["", "", "", "Solve step by step: ", "Show your work. ", "Math problem: ", "Can you help me with "
               "this? ", "Quick question: ", "Homework help please. ", "Word problem: "]
MATH_SUFFIX = ["", "", "", " Show your work.", " Explain each step.", " Please solve it step by step.",
               " Give only the final answer.", " Think it through carefully before you answer.",
               " Check your answer at the end.", " Explain it so a 12-year-old could follow."]


def _math_problem(r: random.Random) -> str:
    v = _math_values(r)
    v["p_new"] = v["p_old"] + r.randint(1, 12) * 10
    v["sell"] = v["cost"] + r.randint(2, 30)
    v["seq2"] = v["first"] * v["ratio"] if r.random() < 0.5 else v["first"] + v["step"]
    if v["seq2"] == v["first"] * v["ratio"]:
        v["seq3"], v["seq4"] = v["seq2"] * v["ratio"], v["seq2"] * v["ratio"] ** 2
    else:
        v["seq3"], v["seq4"] = v["seq2"] + v["step"] + 1, v["seq2"] + 2 * v["step"] + 3
    return r.choice(MATH_TEMPLATES).format(**v)


def _math(r: random.Random) -> str:
    if r.random() < 0.1:
        return f"Answer both questions.\n1) {_math_problem(r)}\n2) {_math_problem(r)}"
    return r.choice(MATH_PREFIX) + _math_problem(r) + r.choice(MATH_SUFFIX)


# ---------------------------------------------------------------------------------------------------
# Logic
# ---------------------------------------------------------------------------------------------------

CATEGORIES = [
    "cats", "mammals", "pilots", "musicians", "students", "painters", "birds", "swimmers", "doctors",
    "gardeners", "robots", "engineers", "poets", "chess players", "runners", "teachers", "dragons",
    "wizards", "bloops", "zorbs", "glimmers", "vintners", "sailors", "bakers", "climbers", "metals",
    "squares", "rectangles", "insects", "reptiles",
]

SYLLOGISMS = [
    "All {A} are {B}. All {B} are {C}. Does it follow that all {A} are {C}?",
    "All {A} are {B}. Some {B} are {C}. Does it follow that some {A} are {C}?",
    "No {A} are {B}. All {C} are {A}. Can any {C} be {B}?",
    "Some {A} are {B}. All {B} are {C}. Must some {A} be {C}?",
    "All {A} are {B}. No {B} are {C}. Is it possible for one of the {A} to be one of the {C}?",
    "Some {A} are not {B}. All {C} are {B}. Can we conclude that some {A} are not {C}?",
    "All {A} are {B}. Some {C} are not {B}. What, if anything, follows about {C} and {A}?",
    "No {A} are {B}. Some {C} are {B}. Does it follow that some {C} are not {A}?",
    "Every one of the {A} is one of the {B}, and none of the {B} is one of the {C}. What can we say "
    "about {A} and {C}?",
    "Premise 1: some {A} are {B}. Premise 2: some {B} are {C}. Conclusion: some {A} are {C}. Is the "
    "argument valid?",
]

CONDITIONALS = [
    ("it rains", "{n} takes the bus", "it does not rain", "{n} does not take the bus", "It is raining"),
    ("the alarm rings", "{n} wakes up", "the alarm does not ring", "{n} does not wake up", "The alarm rang"),
    ("a shape is a square", "it has four sides", "a shape is not a square", "it does not have four sides",
     "This shape is a square"),
    ("the shop is open", "the lights are on", "the shop is closed", "the lights are off", "The shop is open"),
    ("{n} studies", "{n} passes the exam", "{n} does not study", "{n} fails the exam", "{n} studied"),
    ("the oven is on", "the kitchen is warm", "the oven is off", "the kitchen is not warm", "The oven is on"),
    ("a number is divisible by 4", "it is even", "a number is not divisible by 4", "it is odd",
     "The number 28 is divisible by 4"),
    ("the dog barks", "the cat hides", "the dog is quiet", "the cat does not hide", "The dog is barking"),
    ("{n} has a ticket", "{n} can enter the concert", "{n} has no ticket", "{n} cannot enter the concert",
     "{n} has a ticket"),
    ("the battery is charged", "the robot moves", "the battery is flat", "the robot does not move",
     "The battery is charged"),
    ("the river freezes", "the ferry stops", "the river does not freeze", "the ferry keeps running",
     "The river froze"),
    ("{n} eats peanuts", "{n} gets a rash", "{n} avoids peanuts", "{n} has no rash", "{n} ate peanuts"),
    ("the password is correct", "the door opens", "the password is wrong", "the door stays shut",
     "The password is correct"),
    ("it is a holiday", "the bank is closed", "it is not a holiday", "the bank is open", "Today is a holiday"),
]

CONDITIONAL_FORMS = [
    "If {p}, then {q}. {fact}. What can we conclude?",
    "If {p}, then {q}. We observe that {nq}. What can we conclude, and why?",
    "Suppose that whenever {p}, {q}. Right now {q}. Can we be sure that {p}? Explain.",
    "Rule: if {p}, then {q}. Fact: {np}. Does it follow that {nq}?",
    "Is this reasoning valid? 'If {p}, then {q}. {q_cap}. Therefore {p}.'",
]

ORDER_RELATIONS = [
    ("is taller than", "Who is the tallest?", "Who is the shortest?", "from tallest to shortest"),
    ("is older than", "Who is the oldest?", "Who is the youngest?", "from oldest to youngest"),
    ("finished the race ahead of", "Who won the race?", "Who came last?", "in the order they finished"),
    ("is heavier than", "Who is the heaviest?", "Who is the lightest?", "from heaviest to lightest"),
    ("arrived earlier than", "Who arrived first?", "Who arrived last?", "in order of arrival"),
    ("scored more points than", "Who scored the most?", "Who scored the fewest?", "from highest score to lowest"),
    ("lives on a higher floor than", "Who lives on the top floor?", "Who lives lowest?", "from the top floor down"),
    ("got up earlier than", "Who got up first?", "Who got up last?", "in the order they got up"),
]

KNIGHTS = [
    "{A} says: 'We are both knaves.' What are {A} and {B}?",
    "{A} says: '{B} is a knave.' {B} says: '{A} and I are the same kind.' What is each of them?",
    "{A} says: 'At least one of us is a knave.' What are {A} and {B}?",
    "{A} says: 'I am a knight or {B} is a knave.' {B} says nothing. What can you work out?",
    "{A} says: '{B} is a knight.' {B} says: '{A} and I are different kinds.' Who is what?",
    "{A} says: 'Exactly one of us is a knight.' {B} says: 'We are both knights.' Who is what?",
    "{A} says: 'If I am a knight, then {B} is a knight too.' What are they?",
    "{A} says: '{B} would tell you that I am a knave.' Can you tell what {A} is?",
]
KNIGHT_INTROS = [
    "On an island, knights always tell the truth and knaves always lie. You meet {A} and {B}. ",
    "Every inhabitant of a certain island is either a knight, who never lies, or a knave, who never tells "
    "the truth. ",
    "Logic puzzle with knights (truth-tellers) and knaves (liars): ",
]

TRUTH_EXPRESSIONS = [
    "A and not B", "(A or B) and not (A and B)", "not (A and B)", "not A or B", "(A and B) or C",
    "A -> B", "(A -> B) and (B -> A)", "A xor B", "(A or not B) and C", "not (A or B)",
    "(A and not B) or (not A and B)", "A and (B or C)",
]
TRUTH_PHRASES = [
    "Write out the truth table for {e}.",
    "Make a truth table for the expression {e}. For which inputs is it true?",
    "Is {e} the same as {e2}? Use a truth table to check.",
]

RIDDLES = [
    "I have keys but open no locks, and I have space but no room. What am I?",
    "The more of me you take, the more you leave behind. What am I?",
    "What can run but never walks, has a mouth but never talks?",
    "A man looks at a photo and says: 'Brothers and sisters I have none, but that man's father is my "
    "father's son.' Who is in the photo?",
    "What gets bigger the more you take away from it?",
    "A rooster lays an egg on the very top of a pointed roof. Which side does the egg roll down?",
    "If you have me, you want to share me. If you share me, you no longer have me. What am I?",
    "What has a neck but no head, and wears a cap?",
    "A farmer has 17 sheep and all but 9 run away. How many are left?",
    "How many months of the year have 28 days?",
    "What can you catch but never throw?",
    "Two mothers and two daughters go fishing and catch three fish, one each. How is that possible?",
    "What is always in front of you but can never be seen?",
    "I am light as a feather, yet the strongest person cannot hold me for five minutes. What am I?",
    "You are in a race and you pass the person in second place. What place are you in now?",
    "What belongs to you but other people use it more than you do?",
    "A clock shows 3:15. What is the angle between the hour hand and the minute hand?",
    "What word becomes shorter when you add two letters to it?",
    "There are three light switches outside a closed room with one bulb inside. You may enter the room "
    "only once. How do you find out which switch controls the bulb?",
    "You have two ropes that each take exactly an hour to burn, but they burn unevenly. How can you "
    "measure 45 minutes?",
    "You have 8 balls that look the same, and one is slightly heavier. With a balance scale, how can you "
    "find the heavy one in two weighings?",
    "A bat and a ball cost $1.10 together, and the bat costs $1.00 more than the ball. How much is the ball?",
]
RIDDLE_PHRASES = ["{q}", "Riddle: {q}", "Here's a riddle for you. {q}", "{q} Explain your answer.",
                  "Can you solve this? {q}"]

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CALENDAR = [
    "If the day before yesterday was {day}, what day will it be the day after tomorrow?",
    "If tomorrow is {day}, what day was it three days ago?",
    "Today is {day}. What day of the week will it be in {k} days?",
    "If {k} days from now is {day}, what day was yesterday?",
    "The day after the day before yesterday was {day}. What day is today?",
    "A meeting happens every {k} days. The first one is on a {day}. On which day of the week is the "
    "fifth meeting?",
]

FAMILY = [
    "{A} is {B}'s mother. {C} is {A}'s father. How is {C} related to {B}?",
    "{A}'s brother is {B}. {B}'s daughter is {C}. What is {C} to {A}?",
    "{A} has two sisters, and each sister has one brother. How many brothers does {A} have, if {A} is a boy?",
    "{A} says: '{B}'s mother is my mother's only daughter.' How are {A} and {B} related?",
    "{A} is the father of {B}, and {B} is the sister of {C}. Who is {C}'s father?",
    "{A} is married to {B}. {C} is {B}'s son from an earlier marriage. What is {A} to {C}?",
]

ODD_ONE_OUT = [
    ["apple", "banana", "carrot", "cherry"], ["violin", "trumpet", "cello", "guitar"],
    ["Mercury", "Venus", "Moon", "Mars"], ["square", "triangle", "cube", "circle"],
    ["2", "3", "9", "11"], ["whale", "shark", "dolphin", "seal"], ["Paris", "Madrid", "Berlin", "Texas"],
    ["run", "swim", "happy", "jump"], ["16", "25", "36", "48"], ["copper", "iron", "plastic", "silver"],
    ["inch", "meter", "gram", "mile"], ["July", "June", "Monday", "March"],
]
ODD_PHRASES = ["Which is the odd one out: {w}? Why?", "Find the word that does not belong: {w}.",
               "One of these is different from the rest: {w}. Which one, and what is the reason?"]

PUZZLES = [
    "A wolf, a goat and a cabbage have to cross a river in a boat that holds the farmer and one of them. "
    "The wolf cannot be left alone with the goat, nor the goat with the cabbage. How does the farmer get "
    "everything across?",
    "There are three boxes labelled 'apples', 'oranges' and 'mixed', and every label is wrong. You may take "
    "one fruit from one box. How do you relabel all the boxes correctly?",
    "You have a 3-litre jug and a 5-litre jug and plenty of water. How can you measure exactly 4 litres?",
    "Four people must cross a bridge at night with one torch. They take 1, 2, 5 and 10 minutes, and at most "
    "two can cross at a time, at the slower one's pace. What is the shortest total time?",
    "A snail is at the bottom of a 10 m well. Each day it climbs 3 m and each night it slides back 2 m. On "
    "which day does it get out?",
    "Which is heavier, a kilogram of feathers or a kilogram of iron? Explain.",
    "If it takes 5 machines 5 minutes to make 5 widgets, how long do 100 machines need to make 100 widgets?",
    "A lily pad patch doubles in size every day and covers the whole pond on day 30. On which day did it "
    "cover half the pond?",
]

LOGIC_PREFIX = ["", "", "", "Logic puzzle: ", "Here is a puzzle. ", "Try this one: ", "Reasoning question: "]
LOGIC_SUFFIX = ["", "", " Explain your reasoning.", " Think step by step.", " Show how you got the answer.",
                " Answer briefly, then justify it."]


def _ordering(r: random.Random) -> str:
    k = r.randint(3, 5)
    people = _people(r, k)
    comp, q_top, q_bottom, order_words = r.choice(ORDER_RELATIONS)
    clues = [f"{people[i]} {comp} {people[i + 1]}." for i in range(k - 1)]
    if k >= 4 and r.random() < 0.5:
        clues.append(f"{people[0]} {comp} {people[k - 1]}.")
    r.shuffle(clues)
    question = r.choice([q_top, q_bottom, f"List them {order_words}.", f"{q_top} {q_bottom}"])
    return " ".join(clues) + " " + question


def _seat_facts(order: list[str], a: str, b: str) -> dict:
    i, j = order.index(a), order.index(b)
    return {"left_of": i < j, "next": abs(i - j) == 1, "right_next": j == i + 1}


def _seating(r: random.Random) -> str:
    k = r.randint(3, 5)
    people = _people(r, k)
    truth = people[:]
    r.shuffle(truth)
    candidates = []
    for a in people:
        for b in people:
            if a != b:
                f = _seat_facts(truth, a, b)
                if f["right_next"]:
                    candidates.append((f"{b} is directly to the right of {a}.", ("right_next", a, b, True)))
                if f["left_of"]:
                    candidates.append((f"{a} is somewhere to the left of {b}.", ("left_of", a, b, True)))
                if not f["next"] and a < b:
                    candidates.append((f"{a} and {b} are not next to each other.", ("next", a, b, False)))
        pos = truth.index(a)
        if pos == 0:
            candidates.append((f"{a} is at the left end.", ("end", a, 0, True)))
        if pos == k - 1:
            candidates.append((f"{a} is at the right end.", ("end", a, k - 1, True)))
        if pos not in (0, k - 1):
            candidates.append((f"{a} is not at either end.", ("middle", a, 0, True)))
    r.shuffle(candidates)

    def holds(order, rule):
        kind, a, b, want = rule
        if kind == "end":
            return order.index(a) == b
        if kind == "middle":
            return order.index(a) not in (0, k - 1)
        return _seat_facts(order, a, b)[kind] == want

    chosen = []
    options = [list(p) for p in permutations(people)]
    for text, rule in candidates:
        remaining = [o for o in options if holds(o, rule)]
        if len(remaining) < len(options):
            chosen.append(text)
            options = remaining
        if len(options) == 1:
            break
    setting = r.choice([f"{_join(people)} sit in a row of {k} chairs, facing forward.",
                        f"{k} friends, {_join(people)}, stand in a line for a photo (left to right as we look at them).",
                        f"{_join(people)} park their bikes in a row of {k} spaces, one bike each."])
    ask = r.choice(["Who is in each position, from left to right?", f"Who is in the middle position?"
                    if k % 2 == 1 else "Who is second from the left?", "Give the full order from left to right."])
    return setting + " " + " ".join(chosen) + " " + ask


def _whodunit(r: random.Random) -> str:
    people = _people(r, 3)
    thing = r.choice(["ate the last cookie", "broke the vase", "left the door open", "took the umbrella",
                      "spilled the paint"])
    while True:
        statements = []
        for speaker in people:
            kind = r.choice(["self_not", "other_did", "other_not"])
            other = r.choice([p for p in people if p != speaker])
            statements.append((speaker, kind, other))
        honest = r.choice([1, 2])

        def true_count(culprit):
            n = 0
            for speaker, kind, other in statements:
                n += {"self_not": culprit != speaker, "other_did": culprit == other,
                      "other_not": culprit != other}[kind]
            return n

        fits = [c for c in people if true_count(c) == honest]
        if len(fits) == 1:
            break
    lines = []
    for speaker, kind, other in statements:
        said = {"self_not": "I didn't do it.", "other_did": f"{other} did it.",
                "other_not": f"{other} didn't do it."}[kind]
        lines.append(f"{speaker} says: '{said}'")
    count = "Exactly one of them is telling the truth." if honest == 1 else "Exactly two of them are telling the truth."
    return f"One of {_join(people)} {thing}. " + " ".join(lines) + f" {count} Who was it?"


def _logic(r: random.Random) -> str:
    kind = r.choices(["syllogism", "conditional", "ordering", "knights", "truth", "riddle", "calendar",
                      "family", "odd", "puzzle", "seating", "whodunit"],
                     weights=[14, 14, 12, 9, 6, 5, 7, 6, 4, 3, 12, 8])[0]
    if kind == "syllogism":
        A, B, C = r.sample(CATEGORIES, 3)
        body = r.choice(SYLLOGISMS).format(A=A, B=B, C=C)
    elif kind == "conditional":
        name = r.choice(NAMES)
        p, q, np_, nq, fact = (s.format(n=name) for s in r.choice(CONDITIONALS))
        body = r.choice(CONDITIONAL_FORMS).format(p=p, q=q, np=np_, nq=nq, fact=fact, q_cap=q[0].upper() + q[1:])
    elif kind == "ordering":
        body = _ordering(r)
    elif kind == "knights":
        A, B = _people(r, 2)
        body = r.choice(KNIGHT_INTROS).format(A=A, B=B) + r.choice(KNIGHTS).format(A=A, B=B)
    elif kind == "truth":
        e, e2 = r.sample(TRUTH_EXPRESSIONS, 2)
        body = r.choice(TRUTH_PHRASES).format(e=e, e2=e2)
    elif kind == "riddle":
        return r.choice(RIDDLE_PHRASES).format(q=r.choice(RIDDLES))
    elif kind == "calendar":
        body = r.choice(CALENDAR).format(day=r.choice(WEEKDAYS), k=r.randint(3, 40))
    elif kind == "family":
        A, B, C = _people(r, 3)
        body = r.choice(FAMILY).format(A=A, B=B, C=C)
    elif kind == "odd":
        words = r.choice(ODD_ONE_OUT)[:]
        r.shuffle(words)
        body = r.choice(ODD_PHRASES).format(w=", ".join(words))
    elif kind == "puzzle":
        body = r.choice(PUZZLES)
    elif kind == "seating":
        body = _seating(r)
    else:
        body = _whodunit(r)
    return r.choice(LOGIC_PREFIX) + body + r.choice(LOGIC_SUFFIX)


# ---------------------------------------------------------------------------------------------------
# Chat
# ---------------------------------------------------------------------------------------------------

ADVICE_GOALS = [
    "sleep better", "stop procrastinating", "save money on groceries", "get better at public speaking",
    "make friends in a new city", "keep a houseplant alive", "start running as a complete beginner",
    "learn a new language as an adult", "stay focused when working from home", "deal with a noisy neighbour",
    "prepare for a job interview", "cut down on screen time", "cook more at home", "keep my desk organised",
    "ask for a raise", "be more patient with my kids", "stick to a budget", "drink more water during the day",
    "handle stress before exams", "write a good CV", "get back into reading books", "learn to draw",
    "talk to my teenager about their phone use", "make my small apartment feel bigger",
    "get motivated to clean the house", "say no to extra work without upsetting people",
    "train my dog to walk on a lead", "remember people's names", "take better photos with my phone",
    "recover after a bad day", "pack light for a long trip", "build a habit of journaling",
]
ROLES = ["student", "nurse", "software developer", "retired teacher", "new parent", "shop owner",
         "night-shift worker", "freelance designer", "university lecturer", "bus driver"]
ADVICE_PHRASES = [
    "How can I {g}?",
    "Any tips to {g}?",
    "I'm a {role} and I want to {g}. Where should I start?",
    "What's the best way to {g}? I've tried a few things but nothing has stuck so far.",
    "My friend asked me how to {g} and I had no idea what to say. What would you suggest?",
    "Give me five practical ways to {g}.",
    "I really struggle to {g}. Honestly it's been bothering me for months, and I'd like a plan I can start "
    "this week. Can you help?",
    "how do i {g}",
]

EXPLAIN_TOPICS = [
    "how vaccines teach the immune system", "why leaves change colour in autumn", "what inflation is",
    "how a rainbow forms", "why the sea is salty", "how airplanes stay in the air", "what black holes are",
    "how the internet gets data from one computer to another", "why we dream", "how compound interest works",
    "what causes the seasons", "how a refrigerator keeps food cold", "what DNA does", "why the moon has phases",
    "how photosynthesis works", "what a stock market is", "why ice floats on water", "how a bill becomes law",
    "what machine learning is", "how earthquakes happen", "why cats purr", "what an electric current is",
    "how bees make honey", "why bread rises", "what climate change means", "how GPS knows where you are",
    "what a calorie is", "how recycling plastic works", "why the sky turns red at sunset",
    "how our ears let us hear", "what a credit score is", "why we get goosebumps",
    "how noise-cancelling headphones work", "what the placebo effect is", "how a lock and key work",
]
EXPLAIN_PHRASES = [
    "Explain {t}.",
    "Can you explain {t} in simple terms?",
    "How would you explain {t} to a {age}-year-old?",
    "I never really understood {t}. Could you explain it in a few paragraphs?",
    "Give me a short explanation of {t}.",
    "My {kid} asked me {t_q} and I didn't know the answer. Can you explain it so I can tell them?",
    "In two or three sentences: {t}?",
]

STORY_FORMS = ["a short story", "a poem", "a haiku", "a limerick", "a four-line rhyme", "a fable with a moral",
               "a diary entry", "a bedtime story", "a very short story of exactly five sentences", "a sonnet"]
STORY_THEMES = [
    "a lighthouse keeper who finds a message in a bottle", "the first day of spring", "a robot learning to "
    "cook", "a lost umbrella", "friendship between a fox and a crow", "a rainy Monday morning",
    "a grandmother's old recipe book", "a city at night", "the last day of summer holidays",
    "a cat who thinks it is a dog", "climbing a mountain", "a train journey through the snow",
    "a child's first bicycle", "the sound of the ocean", "a dragon who is afraid of the dark",
    "moving to a new country", "a garden that only grows at night", "a time traveller who arrives too late",
    "an old violin in a junk shop", "coffee on a cold morning", "a small town library",
    "a penguin who wants to fly", "waiting for exam results", "a kite caught in a tree",
    "two strangers sharing an umbrella", "the moon watching over a sleeping village", "a broken clock",
    "a football match in the rain", "a letter that arrives fifty years late", "a shy ghost",
]
MOODS = ["funny", "hopeful", "a bit sad", "calm", "mysterious", "cheerful", "nostalgic"]
STORY_PHRASES = [
    "Write {f} about {th}.",
    "Could you write {f} about {th}? Keep it under 200 words.",
    "I'd love {f} about {th}, something {mood}.",
    "Write {f} about {th} for my {kid}.",
    "Please write {f}. The theme is {th}, and the tone should be {mood}.",
]

RECOMMEND = [
    "a few board games for a family with young children", "some podcasts about history",
    "books for someone who loved The Hobbit", "easy vegetables to grow on a balcony",
    "a good first programming language", "gift ideas for a friend who likes hiking",
    "some relaxing hobbies I can do at home", "healthy snacks to take to work",
    "a beginner's workout I can do without equipment", "films to watch on a rainy weekend",
    "apps to help me learn Spanish", "day trips for a family near a big city",
    "indoor activities for kids when it's raining", "houseplants that survive in low light",
    "a good routine for the first hour of the morning",
]
RECOMMEND_PHRASES = ["Can you recommend {x}?", "I'm looking for {x}. Any suggestions?",
                     "What would you suggest as {x}? Give me a short list with a reason for each.",
                     "Recommend {x}, please."]

COMPARE = [
    ("living in a city", "living in the countryside"), ("e-books", "paper books"), ("renting", "buying a home"),
    ("working from home", "working in an office"), ("cats", "dogs"), ("trains", "planes for trips under 500 km"),
    ("learning piano", "learning guitar"), ("a gas stove", "an induction hob"), ("tea", "coffee"),
    ("public schools", "home schooling"), ("running", "swimming for fitness"), ("a laptop", "a tablet for a student"),
    ("saving money", "paying off debt first"), ("group holidays", "travelling alone"),
    ("handwritten notes", "typed notes"), ("electric cars", "petrol cars"), ("a big wedding", "a small one"),
    ("studying in the morning", "studying at night"),
]
COMPARE_PHRASES = [
    "What are the pros and cons of {a} versus {b}?",
    "Which is better, {a} or {b}? Give me both sides.",
    "Compare {a} and {b}.",
    "I can't decide between {a} and {b}. What should I think about?",
    "What's your opinion: {a} or {b}?",
]

PLANS = [
    "a {k}-day trip to {city}", "a weekly meal plan for a vegetarian on a tight budget",
    "a study schedule for the two weeks before my exams", "a birthday party for a {age}-year-old",
    "a simple morning routine", "a weekend clean-up of my garage", "a small dinner party for {k} friends",
    "a training plan to run 5 km in {k} weeks", "a picnic in the park", "a reading challenge for the year",
    "the first week at a new job", "a move to a new flat",
]
CITIES = ["Lisbon", "Kyoto", "Rome", "Edinburgh", "Mexico City", "Prague", "Vancouver", "Cape Town", "Istanbul"]
PLAN_PHRASES = ["Help me plan {p}.", "Can you make a plan for {p}?", "I need to organise {p}. Where do I begin?",
                "Put together a checklist for {p}."]

EMAILS = [
    ("landlord", "asking them to repair a leaking tap"), ("manager", "asking for a day off next Friday"),
    ("neighbour", "about their dog barking at night"), ("teacher", "explaining why my son missed school"),
    ("colleague", "thanking them for their help on a project"), ("gym", "cancelling my membership"),
    ("customer service team", "about a parcel that never arrived"), ("friend", "inviting them to dinner"),
    ("professor", "asking for an extension on an essay"), ("team", "announcing that I am leaving the company"),
    ("client", "apologising for a late delivery"), ("plumber", "asking for a quote"),
    ("hotel", "asking whether they allow pets"), ("new coworkers", "introducing myself"),
]
EMAIL_PHRASES = [
    "Write a short email to my {who} {why}.",
    "Can you draft a {tone} email to my {who} {why}?",
    "Help me write an email to my {who} {why}. Keep it {tone} and brief.",
    "I need to send a message to my {who} {why}, but I don't want to sound rude. Could you write it for me?",
]

MISC_CHAT = [
    "What should I cook tonight? I have {ingredients}.",
    "Give me five fun facts about {animal}.",
    "What are some good questions to ask on a first date?",
    "Tell me a joke about {animal}.",
    "What is a nice way to spend a Sunday afternoon alone?",
    "Suggest a name for my new {pet}.",
    "What would happen if everyone on Earth jumped at the same time?",
    "Is it better to shower in the morning or in the evening?",
    "What are three things I could do to be kinder to the environment?",
    "Describe a perfect summer day in a few sentences.",
    "What do you think makes a good friend?",
    "Why do people enjoy scary movies?",
    "Give me a motivational message for a hard week.",
    "What's a good way to start a conversation with someone at a party?",
    "Give me some ideas for a {k}-minute break at work.",
]
INGREDIENTS = ["rice, eggs and spinach", "pasta, tomatoes and garlic", "potatoes, onions and cheese",
               "chickpeas, yoghurt and a lemon", "bread, beans and some peppers", "noodles, carrots and tofu"]
ANIMALS = ["octopuses", "penguins", "elephants", "owls", "sloths", "bees", "crows", "sharks"]
PETS = ["kitten", "puppy", "goldfish", "rabbit", "parrot", "hamster"]
KIDS = ["son", "daughter", "niece", "nephew", "little brother", "granddaughter"]


def _as_question(topic: str) -> str:
    return topic if topic.split()[0] in ("why", "how", "what") else "about " + topic


def _chat(r: random.Random) -> str:
    kind = r.choices(["advice", "explain", "story", "recommend", "compare", "plan", "email", "misc"],
                     weights=[18, 20, 18, 8, 10, 9, 9, 8])[0]
    common = {"role": r.choice(ROLES), "age": r.randint(5, 14), "kid": r.choice(KIDS), "mood": r.choice(MOODS),
              "k": r.randint(2, 10), "city": r.choice(CITIES)}
    if kind == "advice":
        return r.choice(ADVICE_PHRASES).format(g=r.choice(ADVICE_GOALS), **common)
    if kind == "explain":
        t = r.choice(EXPLAIN_TOPICS)
        return r.choice(EXPLAIN_PHRASES).format(t=t, t_q=_as_question(t), **common)
    if kind == "story":
        return r.choice(STORY_PHRASES).format(f=r.choice(STORY_FORMS), th=r.choice(STORY_THEMES), **common)
    if kind == "recommend":
        return r.choice(RECOMMEND_PHRASES).format(x=r.choice(RECOMMEND))
    if kind == "compare":
        a, b = r.choice(COMPARE)
        return r.choice(COMPARE_PHRASES).format(a=a, b=b)
    if kind == "plan":
        return r.choice(PLAN_PHRASES).format(p=r.choice(PLANS).format(**common))
    if kind == "email":
        who, why = r.choice(EMAILS)
        return r.choice(EMAIL_PHRASES).format(who=who, why=why, tone=r.choice(["polite", "friendly", "formal"]))
    return r.choice(MISC_CHAT).format(ingredients=r.choice(INGREDIENTS), animal=r.choice(ANIMALS),
                                      pet=r.choice(PETS), k=r.choice([5, 10, 15]))


# ---------------------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------------------

GENERATORS = {"code": _code, "math": _math, "logic": _logic, "chat": _chat}


def training_instructions(per_domain: int = 800, seed: int = 1234) -> list[dict]:
    """``per_domain`` distinct user instructions for each domain (code, math, logic, chat, in that order).

    Each record is ``{"id": "train-code-0001", "domain": "code", "prompt": "..."}``. The result depends only
    on ``per_domain`` and ``seed``; no prompt appears twice, across or within domains.
    """
    r = random.Random(seed)
    seen: set[str] = set()
    records = []
    for domain in DOMAINS:
        make = GENERATORS[domain]
        count, tries = 0, 0
        while count < per_domain:
            tries += 1
            if tries > 200 * per_domain + 1000:
                raise RuntimeError(f"could not make {per_domain} distinct {domain} instructions")
            prompt = make(r)
            if prompt in seen:
                continue
            seen.add(prompt)
            count += 1
            records.append({"id": f"train-{domain}-{count:04d}", "domain": domain, "prompt": prompt})
    return records


def main(argv: list[str] | None = None) -> None:
    """Print how many training instructions each domain has, and three examples of each."""
    argparse.ArgumentParser(description="Print the training instructions' counts and a few examples.").parse_args(argv)
    rows = training_instructions()
    show = random.Random(0)
    for domain in DOMAINS:
        mine = [row for row in rows if row["domain"] == domain]
        print(f"== {domain}: {len(mine)} instructions ({len({row['prompt'] for row in mine})} distinct)")
        for row in show.sample(mine, 3):
            print(f"--- {row['id']}\n{row['prompt']}")
        print()


if __name__ == "__main__":
    main()
