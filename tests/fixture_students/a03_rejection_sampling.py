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
