"""The training corpus of the course's tiny pair: four domains, built offline and reproducibly.

* **code** - Python source from the interpreter's standard library (sorted file list, seeded choice;
  tests, demos and third-party packages left out);
* **math** - arithmetic word problems with worked, step-by-step solutions, generated here;
* **logic** - syllogisms, orderings and truth-teller puzzles with their reasoning, generated here;
* **chat** - user/assistant dialogues in a polite, formulaic assistant register, generated here.

Every generator draws from one ``random.Random(seed)``, so a seed fixes the corpus. Each domain keeps
a held-out split for perplexity. The prompt sets (``specdec_lite/data/prompts.jsonl``) come from the
same task families but are written separately; none of them occurs verbatim in this corpus.
"""

from __future__ import annotations

import random
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from specdec_lite.prompts import DOMAINS

NAMES = [
    "Ava", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jamal", "Kira", "Liam", "Maya",
    "Noah", "Olga", "Pablo", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Yusuf", "Zoe",
]
ITEMS = [
    ("apple", "apples"), ("book", "books"), ("marble", "marbles"), ("pencil", "pencils"), ("cookie", "cookies"),
    ("sticker", "stickers"), ("card", "cards"), ("shell", "shells"), ("egg", "eggs"), ("stamp", "stamps"),
    ("plant", "plants"), ("ticket", "tickets"), ("coin", "coins"), ("bottle", "bottles"), ("brick", "bricks"),
]
PLACES = ["a shop", "a bakery", "a library", "a farm", "a school", "a market", "a garden", "a workshop"]


@dataclass(frozen=True)
class Document:
    domain: str
    text: str


# --------------------------------------------------------------------------------------------- code
def stdlib_files() -> list[Path]:
    """The standard library's own Python files, sorted (tests, demos and site-packages left out)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idlelib", "lib2to3", "turtledemo", "ensurepip", "tkinter", "pydoc_data"}
    files = [p for p in root.rglob("*.py") if not skip & set(p.relative_to(root).parts)]
    return sorted(files)


def code_documents(rng: random.Random, n_chars: int) -> list[str]:
    """Chunks of standard-library source, cut at top-level ``def``/``class`` boundaries."""
    files = stdlib_files()
    rng.shuffle(files)
    docs, total = [], 0
    for path in files:
        try:
            source = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        chunk: list[str] = []
        for line in source.splitlines():
            if line.startswith(("def ", "class ")) and len("\n".join(chunk)) > 600:
                docs.append("\n".join(chunk).strip() + "\n")
                total += len(docs[-1])
                chunk = []
            chunk.append(line)
        if total >= n_chars:
            break
    return docs


# --------------------------------------------------------------------------------------------- math
def math_problem(rng: random.Random) -> tuple[str, str]:
    """One word problem and its worked solution."""
    name, other = rng.sample(NAMES, 2)
    item, items = rng.choice(ITEMS)
    kind = rng.randrange(5)
    if kind == 0:
        a, b = rng.randint(3, 40), rng.randint(2, 30)
        c = rng.randint(1, a + b - 1)
        q = f"{name} has {a} {items}. {other} gives {name} {b} more, and then {name} uses {c}. How many {items} does {name} have now?"
        s = f"Start with {a} {items}. After getting {b} more: {a} + {b} = {a + b}. After using {c}: {a + b} - {c} = {a + b - c}. The answer is {a + b - c}."
    elif kind == 1:
        boxes, per = rng.randint(2, 12), rng.randint(2, 15)
        q = f"At {rng.choice(PLACES)}, {name} packs {boxes} boxes with {per} {items} in each box. How many {items} are packed?"
        s = f"Each box holds {per} {items} and there are {boxes} boxes. {boxes} x {per} = {boxes * per}. The answer is {boxes * per}."
    elif kind == 2:
        groups, per = rng.randint(2, 9), rng.randint(2, 12)
        total = groups * per
        q = f"{name} shares {total} {items} equally among {groups} friends. How many {items} does each friend get?"
        s = f"Divide the {total} {items} into {groups} equal groups: {total} / {groups} = {per}. The answer is {per}."
    elif kind == 3:
        price, count = rng.randint(2, 9), rng.randint(2, 8)
        cost = price * count
        paid = cost + rng.randint(1, 20)
        q = f"One {item} costs {price} dollars. {name} buys {count} {items} and pays with {paid} dollars. How much change does {name} get?"
        s = f"The {items} cost {count} x {price} = {cost} dollars. The change is {paid} - {cost} = {paid - cost} dollars. The answer is {paid - cost}."
    else:
        days, per, extra = rng.randint(2, 7), rng.randint(3, 20), rng.randint(1, 30)
        q = f"{name} collects {per} {items} every day for {days} days, and {other} collects {extra} {items} in total. How many {items} do they have together?"
        s = f"{name} collects {days} x {per} = {days * per} {items}. Together: {days * per} + {extra} = {days * per + extra}. The answer is {days * per + extra}."
    return q, s


# -------------------------------------------------------------------------------------------- logic
CREATURES = ["blorks", "wimbles", "tazzers", "grinks", "fobbles", "quonks", "zibbers", "marvins", "plimps", "druffs"]
TRAITS = ["green", "fast", "round", "noisy", "shiny", "tall", "brave", "sleepy"]


def logic_puzzle(rng: random.Random) -> tuple[str, str]:
    """One puzzle and its step-by-step reasoning."""
    kind = rng.randrange(3)
    if kind == 0:
        a, b, c = rng.sample(CREATURES, 3)
        if rng.random() < 0.5:
            q = f"All {a} are {b}. All {b} are {c}. Are all {a} {c}?"
            r = f"Every one of the {a} is one of the {b}, and every one of the {b} is one of the {c}. So every one of the {a} is one of the {c}. The answer is yes."
        else:
            q = f"All {a} are {b}. Some {c} are {b}. Must some {c} be {a}?"
            r = f"The {c} that are {b} need not be {a}, because the {b} may include things that are not {a}. The premises do not force it. The answer is no."
    elif kind == 1:
        names = rng.sample(NAMES, 3)
        trait = rng.choice(["taller", "older", "faster", "stronger"])
        q = f"{names[0]} is {trait} than {names[1]}. {names[1]} is {trait} than {names[2]}. Who is the least {trait[:-2]}?"
        r = f"{names[0]} is above {names[1]}, and {names[1]} is above {names[2]}. So the order is {names[0]}, {names[1]}, {names[2]}. The answer is {names[2]}."
    else:
        x, y = rng.sample(NAMES, 2)
        liar = rng.choice([x, y])
        honest = y if liar == x else x
        q = f"{x} and {y} each either always tell the truth or always lie. {liar} says: \"{honest} is a liar.\" {honest} says: \"We are different.\" Who tells the truth?"
        r = (
            f"Suppose {honest} tells the truth. Then the two are different, so {liar} lies, and {liar}'s claim that "
            f"{honest} is a liar is false, which fits. The answer is {honest}."
        )
    return q, r


# --------------------------------------------------------------------------------------------- chat
TOPICS = [
    ("sleep better", ["keep a regular bedtime", "avoid screens in the last hour", "keep the room cool and dark"]),
    ("study for an exam", ["plan short daily sessions", "test yourself instead of rereading", "sleep well the night before"]),
    ("save money", ["track what you spend for a month", "set up an automatic transfer to savings", "cook at home more often"]),
    ("start running", ["begin with short run-walk intervals", "increase the distance slowly", "wear comfortable shoes"]),
    ("learn a language", ["practise a little every day", "speak with native speakers", "learn the most common words first"]),
    ("keep a plant alive", ["water it only when the soil is dry", "give it enough light", "use a pot with drainage"]),
    ("write a cover letter", ["address it to a person", "explain why you want this job", "keep it to one page"]),
    ("cook rice", ["rinse the rice first", "use about two cups of water per cup of rice", "let it rest before serving"]),
    ("make friends in a new city", ["join a club or a class", "say yes to invitations", "be patient with yourself"]),
    ("focus at work", ["turn off notifications", "work in short blocks with breaks", "start with the hardest task"]),
    ("prepare for a job interview", ["research the company", "practise common questions", "prepare questions of your own"]),
    ("reduce stress", ["take short walks", "breathe slowly for a few minutes", "talk to someone you trust"]),
]
CONCEPTS = [
    ("photosynthesis", "the way plants use sunlight, water and carbon dioxide to make sugar and release oxygen"),
    ("a rainbow", "sunlight bent and split into colours by drops of water in the air"),
    ("gravity", "the force that pulls objects with mass towards each other"),
    ("inflation", "the general rise in prices over time, which lowers what money can buy"),
    ("a vaccine", "a safe preparation that teaches the immune system to recognise a germ"),
    ("the water cycle", "the journey of water from the sea to the clouds, to rain, and back again"),
    ("a black hole", "a region of space where gravity is so strong that not even light can escape"),
    ("recycling", "turning used materials into new products instead of throwing them away"),
    ("an eclipse", "the moment one body in space moves into the shadow of another"),
    ("a computer program", "a list of instructions that a computer follows step by step"),
]
STORY_HEROES = ["a small robot", "a curious fox", "a young baker", "an old lighthouse keeper", "a brave mouse", "a lost kitten"]
STORY_GOALS = ["find its way home", "win a race", "make a new friend", "fix a broken bridge", "find a hidden treasure"]


def chat_dialogue(rng: random.Random) -> tuple[str, str]:
    """One user request and a polite assistant reply."""
    kind = rng.randrange(3)
    if kind == 0:
        topic, tips = rng.choice(TOPICS)
        tips = rng.sample(tips, len(tips))
        user = rng.choice([f"How can I {topic}?", f"Do you have any tips to {topic}?", f"I want to {topic}. Where do I start?"])
        body = " ".join(f"{i + 1}. {t[0].upper() + t[1:]}." for i, t in enumerate(tips))
        reply = f"That is a great goal! Here are a few tips to {topic}: {body} I hope this helps, and good luck!"
    elif kind == 1:
        concept, meaning = rng.choice(CONCEPTS)
        user = rng.choice([f"Can you explain {concept}?", f"What is {concept}?", f"Please explain {concept} in simple words."])
        reply = f"Of course! In simple words, {concept} is {meaning}. I hope this explanation is helpful. Let me know if you have any other questions!"
    else:
        hero, goal = rng.choice(STORY_HEROES), rng.choice(STORY_GOALS)
        user = rng.choice([f"Tell me a short story about {hero}.", f"Could you write a story about {hero} who wants to {goal}?"])
        reply = (
            f"Certainly! Here is a short story. Once upon a time, there was {hero} who wanted to {goal}. "
            f"Every day it tried, and every day it learned something new. With patience and the help of a friend, "
            f"it finally managed to {goal}. The end. I hope you enjoyed this story!"
        )
    return user, reply


# ------------------------------------------------------------------------------------------- corpus
def templated_documents(make, first: str, second: str):
    """A document builder for a generated domain: ``"{first}: question\n{second}: answer\n"`` until ``n_chars``."""

    def build(rng: random.Random, n_chars: int) -> list[str]:
        docs, total = [], 0
        while total < n_chars:
            question, answer = make(rng)
            docs.append(f"{first}: {question}\n{second}: {answer}\n")
            total += len(docs[-1])
        return docs

    return build


BUILDERS = {
    "code": code_documents,
    "math": templated_documents(math_problem, "Problem", "Solution"),
    "logic": templated_documents(logic_puzzle, "Puzzle", "Reasoning"),
    "chat": templated_documents(chat_dialogue, "User", "Assistant"),
}


def build_corpus(seed: int = 0, chars_per_domain: int = 2_000_000, held_out: float = 0.02) -> dict[str, dict[str, list[str]]]:
    """``{domain: {"train": [...], "held_out": [...]}}``: documents per domain, split by a seeded shuffle."""
    corpus = {}
    for i, domain in enumerate(DOMAINS):
        rng = random.Random(seed * 1000 + i)
        docs = BUILDERS[domain](rng, chars_per_domain)
        rng.shuffle(docs)
        n_held = max(1, int(len(docs) * held_out))
        corpus[domain] = {"held_out": docs[:n_held], "train": docs[n_held:]}
    return corpus
