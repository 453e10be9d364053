"""Lesson 8."""

ANSWERS = {
    "mcfadden_r2": {
        "alternative": '''
            import math


            def mcfadden_r2(levels, by):
                def log_likelihood(outcomes):
                    k, n = sum(outcomes), len(outcomes)
                    total = 0.0
                    for count, rate in ((k, k / n), (n - k, 1 - k / n)):
                        if count:
                            total += count * math.log(rate)
                    return total

                outcomes = [int(bool(a)) for a in levels["accepted"]]
                null = log_likelihood(outcomes)
                if null == 0:
                    return float("nan")
                groups = {}
                for group, outcome in zip(levels[by], outcomes):
                    groups.setdefault(group, []).append(outcome)
                return 1 - sum(log_likelihood(g) for g in groups.values()) / null
        ''',
        "hardcoded": '''
            def mcfadden_r2(levels, by):
                fitted = report["predictors"]              # the committed fits, whatever the input
                return float(fitted[by]["pseudo_r2"]) if by in fitted else 0.0
        ''',
        "delegating": '''
            from specdec_lite import study as library


            def mcfadden_r2(levels, by):
                data = levels.assign(accepted=levels["accepted"].astype(int), cluster=0)
                if data["accepted"].nunique() < 2:
                    return float("nan")
                return library.fit_logit(data, f"C({by})")[0]["pseudo_r2"]
        ''',
    },
    "choose_gammas": {
        "alternative": '''
            def choose_gammas(alphas, draft_step, target_step, verify, gammas):
                chosen = {}
                for domain in alphas:
                    alpha = alphas[domain]
                    if np.isnan(alpha):
                        continue
                    best_gamma, best = None, -1.0
                    for g in gammas:
                        tokens = sum(alpha ** j for j in range(g + 1))
                        speedup = tokens / ((g * draft_step + verify[g]) / target_step)
                        if speedup > best:
                            best_gamma, best = g, speedup
                    chosen[domain] = best_gamma
                return chosen
        ''',
        "hardcoded": '''
            def choose_gammas(alphas, draft_step, target_step, verify, gammas):
                if set(alphas) == {"x"}:
                    return {"x": 1 if alphas["x"] == 0 else 2}
                return {d: policy_run.policies["domain_gamma"][d][1] for d in alphas}   # the committed choices
        ''',
        "delegating": '''
            from specdec_lite.policy import choose as _choose


            def choose_gammas(alphas, draft_step, target_step, verify, gammas):
                frame = pd.DataFrame({"domain": list(alphas), "drafter": "draft", "alpha": list(alphas.values())})
                table = _choose(frame, {"draft": draft_step, "target": target_step}, verify, tuple(gammas))
                return {d: int(part.loc[part["predicted_speedup"].idxmax(), "gamma"]) for d, part in table.groupby("domain")}
        ''',
    },
}

# Exercise 2's two multiple-choice answers. The visible check tests only the format, so a "hard-coded" answer here is
# a well-formed wrong letter (what a learner who skipped the tables would write), and the slip is another one.
ANSWERS["above_paper"] = {
    "alternative": '''
        above = {d for d in domains if ours.loc[d, "level_acceptance"] > PUBLISHED_ACCEPTANCE["chat"]}
        options = [{"math"}, {"math", "logic"}, {"math", "logic", "code"}, set()]   # a, b, c, d, read off the table
        above_paper = "(" + "ABCD"[options.index(above)] + ")"
    ''',
    "hardcoded": '''
        above_paper = "d"   # the paper's chat is its best domain, so surely ours are all below it
    ''',
    "slip": '''
        above_paper = "c"   # code's 0.563 read as above the paper's 0.565
    ''',
}
ANSWERS["paper_gap"] = {
    "alternative": '''
        paper_gap = " A) "
    ''',
    "hardcoded": '''
        paper_gap = "b"
    ''',
    "slip": '''
        paper_gap = "d"   # the widths compared with the gap, but our own top and bottom intervals misread
    ''',
}
