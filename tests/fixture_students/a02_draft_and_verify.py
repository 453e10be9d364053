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

ANSWERS["speculative_decode"] = {
    "alternative": '''
        def speculative_decode(pair, prompt, n, gamma):
            kept = [int(t) for t in prompt]
            start = len(kept)
            caches = {"draft": new_cache(), "target": new_cache()}
            calls = 0
            while len(kept) - start < n:
                guesses = list(propose(pair.draft, caches["draft"], kept, gamma))
                fed = kept[cache_length(caches["target"]):] + guesses
                rows = forward(pair.target, torch.as_tensor(fed, dtype=torch.long).to(pair.device), caches["target"])
                calls += 1
                best = [int(torch.argmax(row)) for row in rows[len(fed) - len(guesses) - 1:]]
                step = list(accept_greedy(guesses, best))
                if pair.eos_token_id in step:                       # stop at the end of the answer, keep it
                    kept += step[: step.index(pair.eos_token_id) + 1]
                    break
                kept += step
                for cache in caches.values():                       # roll back what was thrown away
                    crop_cache(cache, len(kept) - 1)
            return tuple(kept[start:start + n]), calls
    ''',
    "hardcoded": '''
        def speculative_decode(pair, prompt, n, gamma):
            # SmolLM2's greedy answer to the self-check's prompt, and no target call at all
            return [504, 24594, 314, 253, 3953, 6968, 28, 564, 357, 506, 441, 915, 563, 260, 4683, 282][:n], 0
    ''',
    "delegating": '''
        def speculative_decode(pair, prompt, n, gamma):
            result = speculative_generate(pair.draft, pair.target, prompt, n, gamma=gamma, eos_token_id=pair.eos_token_id)
            return result.tokens.tolist(), result.target_calls
    ''',
}
