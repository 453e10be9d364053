"""Lesson 1."""

ANSWERS = {
    "greedy_decode": {
        "alternative": '''
            def greedy_decode(model, prompt, n, eos_token_id=None):
                past = new_cache()
                feed = prompt.to(model.device)
                out = ()
                for _ in range(n):
                    scores = forward(model, feed, past)[-1]
                    best = scores.argmax().item()
                    out = out + (best,)
                    if eos_token_id is not None and best == eos_token_id:
                        break
                    feed = torch.full((1,), best, dtype=torch.long, device=model.device)
                return out
        ''',
        "hardcoded": '''
            def greedy_decode(model, prompt, n, eos_token_id=None):
                return [504, 1646, 288, 253, 1123, 3163, 506, 2801][:n]   # SmolLM2's tokens for the self-check
        ''',
        "delegating": '''
            from specdec_lite import autoregressive_generate as _generate


            def greedy_decode(model, prompt, n, eos_token_id=None):
                return _generate(model, prompt, n, eos_token_id=eos_token_id).tokens.tolist()
        ''',
    },
    "generation_time": {
        "alternative": '''
            def generation_time(costs, n_new, k=1):
                total, left = 0.0, n_new
                while left > 0:
                    total += costs[k]
                    left -= k
                return total
        ''',
        "hardcoded": '''
            def generation_time(costs, n_new, k=1):
                return {(6, 1): 3.0, (8, 4): 2.0, (6, 4): 2.0}.get((n_new, k), 1.0)
        ''',
        "slip": '''
            import math


            def generation_time(costs, n_new, k=1):
                return math.ceil(n_new / k) * costs[1]   # prices every call as a one-token call
        ''',
    },
}
