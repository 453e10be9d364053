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

ANSWERS["sampled_step"] = {
    "alternative": '''
        def sampled_step(p_rows, q_rows, drafts, generator):
            out = ()
            i = 0
            while i < len(drafts):
                x = int(drafts[i])
                u = torch.rand((), generator=generator, dtype=torch.float64)
                if u < float(acceptance_probability(float(p_rows[i][x]), float(q_rows[i][x]))):
                    out += (x,)
                    i += 1
                    continue
                replacement = torch.multinomial(torch.as_tensor(residual(p_rows[i], q_rows[i])), 1, generator=generator)
                return out + (int(replacement),)
            return out + (int(torch.multinomial(p_rows[i].double(), 1, generator=generator)),)   # the bonus token
    ''',
    "hardcoded": '''
        def sampled_step(p_rows, q_rows, drafts, generator):
            if torch.equal(p_rows[0], q_rows[0]):                       # the self-check's p = q case
                return list(drafts) + [sample(p_rows[-1], generator)]
            toy_p = torch.tensor([0.30, 0.25, 0.20, 0.12, 0.08, 0.05])  # the six toy tokens' p
            return [int(torch.multinomial(toy_p, 1, generator=generator))]
    ''',
    "delegating": '''
        from specdec_lite import sampling


        def sampled_step(p_rows, q_rows, drafts, generator):
            out = []
            for i, x in enumerate(drafts):
                if not sampling.accept(p_rows[i][x], q_rows[i][x], generator):
                    return out + [sampling.sample(sampling.residual(p_rows[i], q_rows[i]), generator)]
                out.append(int(x))
            return out + [sampling.sample(p_rows[len(drafts)], generator)]
    ''',
}
