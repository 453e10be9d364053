"""Lesson 0. The course's library has no function that is either answer (both build on pair.encode / pair.decode,
which the text asks for), so the second wrong answer of each is a plausible slip."""

ANSWERS = {
    "prompt_length": {
        "alternative": '''
            def prompt_length(pair, text):
                count = 0
                for _ in pair.encode(text):   # one id per token the target reads
                    count += 1
                return count
        ''',
        "hardcoded": '''
            def prompt_length(pair, text):
                return 30   # more than the tokens of "Hello!": all the self-check tests
        ''',
        "slip": '''
            def prompt_length(pair, text):
                return len(pair.tokenizer(text)["input_ids"])   # forgets the chat template
        ''',
    },
    "token_pieces": {
        "alternative": '''
            def token_pieces(pair, tokens):
                return tuple(map(lambda token: pair.decode([token]), tokens))
        ''',
        "hardcoded": '''
            def token_pieces(pair, tokens):
                # one piece holding the whole text, then empty ones: joins back, lengths match
                return [pair.decode(list(tokens))] + [""] * (len(tokens) - 1) if len(tokens) else []
        ''',
        "slip": '''
            def token_pieces(pair, tokens):
                return pair.tokenizer.convert_ids_to_tokens(list(tokens))   # raw vocabulary entries, not text
        ''',
    },
}
