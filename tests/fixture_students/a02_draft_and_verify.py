"""Lesson 2. No library function is accept_greedy's answer (speculative_generate does it inside its loop, on
tensors), so its second wrong answer is a plausible slip."""

ANSWERS = {
    "propose": {
        "alternative": '''
            def propose(draft, cache, sequence, gamma):
                guesses = ()
                unseen = torch.as_tensor(sequence[cache_length(cache):], dtype=torch.long).to(draft.device)
                while len(guesses) < gamma:
                    row = forward(draft, unseen, cache)[-1]
                    guesses += (int(torch.argmax(row).item()),)
                    unseen = torch.tensor(guesses[-1:], dtype=torch.long, device=draft.device)
                return guesses
        ''',
        "hardcoded": '''
            def propose(draft, cache, sequence, gamma):
                guesses = [504, 2988, 288][:gamma]          # the smol draft's guesses in the self-check
                forward(draft, torch.tensor(sequence[cache_length(cache):], device=draft.device), cache)
                for token in guesses[:-1]:
                    forward(draft, torch.tensor([token], device=draft.device), cache)
                return guesses
        ''',
        "delegating": '''
            from specdec_lite.draft import draft_chain as _chain


            def propose(draft, cache, sequence, gamma):
                return _chain(draft, cache, sequence, gamma, 0.0, torch.Generator())[0]
        ''',
    },
    "accept_greedy": {
        "alternative": '''
            def accept_greedy(drafts, target_argmaxes):
                out = ()
                for guess, wanted in zip(drafts, target_argmaxes):
                    if guess != wanted:
                        return out + (wanted,)
                    out += (guess,)
                return out + (target_argmaxes[len(drafts)],)
        ''',
        "hardcoded": '''
            def accept_greedy(drafts, target_argmaxes):
                return [11, 12, 99]
        ''',
        "slip": '''
            def accept_greedy(drafts, target_argmaxes):
                agreed = [d for d, t in zip(drafts, target_argmaxes) if d == t]   # any agreement, not a prefix
                return agreed + [target_argmaxes[len(agreed)]]
        ''',
    },
}
