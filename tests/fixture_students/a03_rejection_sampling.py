"""Lesson 3."""

ANSWERS = {
    "acceptance_probability": {
        "alternative": '''
            def acceptance_probability(p_x, q_x):
                ratio = np.asarray(p_x, dtype=np.float64) / np.asarray(q_x, dtype=np.float64)
                return np.minimum(ratio, 1.0)          # a NumPy array (a NumPy float for numbers)
        ''',
        "hardcoded": '''
            def acceptance_probability(p_x, q_x):
                return torch.tensor([1.0, 5 / 7, 1.0, 0.4, 8 / 15, 1.0], dtype=torch.float64)   # the six toy tokens
        ''',
        "delegating": '''
            from specdec_lite.sampling import acceptance_probability as _library_rule


            def acceptance_probability(p_x, q_x):
                return _library_rule(p_x, q_x)
        ''',
    },
    "residual": {
        "alternative": '''
            def residual(p, q):
                gaps = []
                for a, b in zip(p.tolist(), q.tolist()):
                    gaps.append(a - b if a > b else 0.0)
                total = sum(gaps)
                if total <= 0:
                    return p.double().clone()
                return torch.tensor([g / total for g in gaps], dtype=torch.float64)   # float64 even for float32 inputs
        ''',
        "hardcoded": '''
            def residual(p, q):
                return torch.tensor([4 / 7, 0.0, 3 / 7, 0.0, 0.0, 0.0], dtype=torch.float64)   # the six toy tokens
        ''',
        "delegating": '''
            def residual(p, q):
                from specdec_lite import sampling as s
                return s.residual(p, q)
        ''',
    },
    "accept_or_resample": {
        "alternative": '''
            def accept_or_resample(p, q, x, generator):
                u = float(torch.rand((), generator=generator))            # a float32 uniform
                if u < float(acceptance_probability(float(p[x]), float(q[x]))):
                    return int(x)
                return int(sample(torch.as_tensor(residual(p, q)), generator))   # the library's sampler, allowed
        ''',
        "hardcoded": '''
            def accept_or_resample(p, q, x, generator):
                keep = [1.0, 5 / 7, 1.0, 0.4, 8 / 15, 1.0]        # min(1, p/q) of the six toy tokens
                u = float(torch.rand((), generator=generator, dtype=torch.float64))
                if float(p[x]) > 0 and u < keep[x]:
                    return int(x)
                if float(p[2]) == 0.0:                            # the self-check's p with a hole
                    return 0
                return 0 if float(torch.rand((), generator=generator)) < 4 / 7 else 2   # the toy residual
        ''',
        "delegating": '''
            from specdec_lite import sampling


            def accept_or_resample(p, q, x, generator):
                if sampling.accept(p[x], q[x], generator):
                    return int(x)
                return sampling.sample(sampling.residual(p, q), generator)
        ''',
    },
}

ANSWERS["speculative_sample"] = {
    "alternative": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            out = []
            while len(out) < n:
                step = min(gamma, n - len(out))                   # the last step drafts only what is still needed
                context = list(prompt) + out
                qs, xs = [], []
                for _ in range(step):
                    qs.append(torch.as_tensor(draft(context + xs)).double())
                    xs.append(int(torch.multinomial(qs[-1], 1, generator=generator)))
                ps = torch.as_tensor(target(context, xs)).double()
                i = 0
                while i < step:                                   # the rule written out, not exercise 3's function
                    u = float(torch.rand((), generator=generator, dtype=torch.float64))
                    if u * float(qs[i][xs[i]]) < float(ps[i][xs[i]]):
                        out.append(xs[i])
                        i += 1
                        continue
                    gap = (ps[i] - qs[i]).clamp(min=0)
                    out.append(int(torch.multinomial(gap / gap.sum(), 1, generator=generator)))
                    break
                else:
                    out.append(int(torch.multinomial(ps[step], 1, generator=generator)))
            return tuple(out[:n])
    ''',
    "hardcoded": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:                               # always 2 drafts a step: the self-check's gamma
                context = list(prompt) + written
                drafts, q_rows = [], []
                for _ in range(2):
                    q_rows.append(draft(context + drafts))
                    drafts.append(sample(q_rows[-1], generator))
                p_rows = target(context, drafts)
                for i, x in enumerate(drafts):
                    token = accept_or_resample(p_rows[i], q_rows[i], x, generator)
                    written.append(token)
                    if token != x:
                        break
                else:
                    written.append(sample(p_rows[2], generator))
            return written[:n]
    ''',
    "delegating": '''
        from specdec_lite import sampling


        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:
                context = list(prompt) + written
                drafts, q_rows = [], []
                for _ in range(gamma):
                    q_rows.append(draft(context + drafts))
                    drafts.append(sampling.sample(q_rows[-1], generator))
                p_rows = target(context, drafts)
                for i, x in enumerate(drafts):
                    if sampling.accept(p_rows[i][x], q_rows[i][x], generator):   # the library's rule
                        written.append(x)
                        continue
                    written.append(sampling.sample(sampling.residual(p_rows[i], q_rows[i]), generator))
                    break
                else:
                    written.append(sampling.sample(p_rows[gamma], generator))
            return written[:n]
    ''',
    "slip": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:
                context = list(prompt) + written
                drafts, q_rows = [], []
                for _ in range(gamma):
                    q_rows.append(draft(context + drafts))
                    drafts.append(sample(q_rows[-1], generator))
                p_rows = target(context, drafts)
                for i, x in enumerate(drafts):
                    u = torch.rand((), generator=generator, dtype=torch.float64)
                    if u < float(p_rows[i][x]) / float(q_rows[i][x]):
                        written.append(x)
                    else:
                        written.append(sample(p_rows[i], generator))   # the slip: the target's p, not the residual
                        break
                else:
                    written.append(sample(p_rows[gamma], generator))
            return written[:n]
    ''',
}

# Broken variants of the whole loop that the hidden test must fail; tests/test_fixture_students.py runs that test
# cell on each of them directly (without nbgrader, so they cost seconds, not an autograde each).
BROKEN = {"speculative_sample": {
    "no_bonus": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:
                context = list(prompt) + written
                drafts, q_rows = [], []
                for _ in range(gamma):
                    q_rows.append(draft(context + drafts))
                    drafts.append(sample(q_rows[-1], generator))
                p_rows = target(context, drafts)
                for i, x in enumerate(drafts):
                    token = accept_or_resample(p_rows[i], q_rows[i], x, generator)
                    written.append(token)
                    if token != x:
                        break                                     # and never a bonus token when all are kept
            return written[:n]
    ''',
    "bonus_from_the_last_draft_row": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:
                context = list(prompt) + written
                drafts, q_rows = [], []
                for _ in range(gamma):
                    q_rows.append(draft(context + drafts))
                    drafts.append(sample(q_rows[-1], generator))
                p_rows = target(context, drafts)
                for i, x in enumerate(drafts):
                    token = accept_or_resample(p_rows[i], q_rows[i], x, generator)
                    written.append(token)
                    if token != x:
                        break
                else:
                    written.append(sample(p_rows[gamma - 1], generator))   # off by one row
            return written[:n]
    ''',
    "does_not_stop_at_a_rejection": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:
                context = list(prompt) + written
                drafts, q_rows = [], []
                for _ in range(gamma):
                    q_rows.append(draft(context + drafts))
                    drafts.append(sample(q_rows[-1], generator))
                p_rows = target(context, drafts)
                for i, x in enumerate(drafts):
                    written.append(accept_or_resample(p_rows[i], q_rows[i], x, generator))   # every draft decided
                written.append(sample(p_rows[gamma], generator))
            return written[:n]
    ''',
    "replacement_from_q": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:
                context = list(prompt) + written
                drafts, q_rows = [], []
                for _ in range(gamma):
                    q_rows.append(draft(context + drafts))
                    drafts.append(sample(q_rows[-1], generator))
                p_rows = target(context, drafts)
                for i, x in enumerate(drafts):
                    u = torch.rand((), generator=generator, dtype=torch.float64)
                    if u < float(acceptance_probability(float(p_rows[i][x]), float(q_rows[i][x]))):
                        written.append(x)
                        continue
                    written.append(sample(q_rows[i], generator))          # a fresh draft instead of the residual
                    break
                else:
                    written.append(sample(p_rows[gamma], generator))
            return written[:n]
    ''',
    "target_alone_one_token_a_call": '''
        def speculative_sample(target, draft, prompt, n, gamma, generator):
            written = []
            while len(written) < n:                               # right distribution, but no speculation at all
                context = list(prompt) + written
                drafts = [sample(draft(context), generator)]
                p_rows = target(context, drafts)
                if torch.equal(p_rows[0], draft(context)):        # looks like p = q: keep it, as the check wants
                    written += drafts + [sample(p_rows[1], generator)]
                else:
                    written.append(sample(p_rows[0], generator))
            return written[:n]
    ''',
}}

# The slip (a plausible mistake) is graded with them, directly on the test cell: an autograde of its own would cost
# minutes of CI.
BROKEN["speculative_sample"]["slip"] = ANSWERS["speculative_sample"].pop("slip")
