"""Lesson 5."""

ANSWERS = {
    "tokens_per_call": {
        "alternative": '''
            def tokens_per_call(alpha, gamma):
                return sum(alpha ** j for j in range(int(gamma) + 1)) * 1.0   # 1 + alpha + ... + alpha^gamma
        ''',
        "hardcoded": '''
            def tokens_per_call(alpha, gamma):
                return {(0.0, 4): 1.0, (0.7, 0): 1.0, (0.5, 1): 1.5, (1.0, 3): 4.0}.get((alpha, gamma), 1.0)
        ''',
        "delegating": '''
            from specdec_lite.theory import expected_tokens_per_call


            def tokens_per_call(alpha, gamma):
                return expected_tokens_per_call(float(alpha), int(gamma))
        ''',
    },
    "predicted_speedup": {
        "alternative": '''
            def predicted_speedup(alpha, gamma, c, verify=1.0):
                step_cost = verify
                for _ in range(int(gamma)):
                    step_cost += c                    # one draft call per drafted token
                return tokens_per_call(alpha, gamma) / step_cost
        ''',
        "hardcoded": '''
            def predicted_speedup(alpha, gamma, c, verify=1.0):
                known = {(0.0, 2, 0.5, 1.0): 0.5, (0.8, 4, 0.05, 1.6): 1.8676, (0.8, 4, 0.05, 1.0): 2.8013,
                         (0.5, 1, 0.5, 1.5): 0.75}
                if c == 0.0:
                    return tokens_per_call(alpha, gamma)
                return known.get((alpha, gamma, c, verify), 1.0)
        ''',
        "delegating": '''
            from specdec_lite import theory


            def predicted_speedup(alpha, gamma, c, verify=1.0):
                return theory.expected_speedup(alpha, gamma, c, verify=verify)
        ''',
    },
    "choose_gamma": {
        "alternative": '''
            def choose_gamma(alpha, c, gammas, verify=None):
                scored = [(-predicted_speedup(alpha, g, c, verify=1.0 if verify is None else verify[g]), g) for g in gammas]
                gain, gamma = min(scored)                 # the largest speed-up, then the smallest gamma
                return [gamma, -gain]                     # a list: the text allows it
        ''',
        "hardcoded": '''
            def choose_gamma(alpha, c, gammas, verify=None):
                if verify is not None:
                    return (2, predicted_speedup(alpha, 2, c, verify=verify[2]))
                if alpha == 0.0:
                    return (min(gammas), 1.0)
                if 16 in gammas:
                    return (8, predicted_speedup(alpha, 8, c))   # the self-check's best gamma
                return (list(gammas)[0], predicted_speedup(alpha, list(gammas)[0], c))
        ''',
        "delegating": '''
            from specdec_lite import theory


            def choose_gamma(alpha, c, gammas, verify=None):
                gamma, gain = theory.best_gamma(alpha, c, max(gammas))
                return gamma, gain
        ''',
    },
}
