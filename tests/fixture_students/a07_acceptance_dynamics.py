"""Lesson 7."""

ANSWERS = {
    "level_acceptance": {
        "alternative": '''
            def level_acceptance(nodes):
                kept, drafted = {}, {}                     # per step: deepest accepted depth, deepest drafted depth
                for prompt, step, depth, ok in zip(nodes["prompt_id"], nodes["step"], nodes["depth"], nodes["accepted"]):
                    key = (prompt, step)
                    drafted[key] = max(drafted.get(key, 0), int(depth))
                    kept[key] = max(kept.get(key, 0), int(depth) if bool(ok) else 0)
                reached, accepted = {}, {}
                for key, deepest in drafted.items():
                    for d in range(1, min(kept[key] + 1, deepest) + 1):
                        reached[d] = reached.get(d, 0) + 1
                        accepted[d] = accepted.get(d, 0) + (d <= kept[key])
                depths = sorted(reached)
                return pd.DataFrame({"reached": [reached[d] for d in depths],
                                     "accepted": [accepted[d] for d in depths],
                                     "rate": [accepted[d] / reached[d] for d in depths]},
                                    index=pd.Index(depths, name="depth"))
        ''',
        "hardcoded": '''
            def level_acceptance(nodes):
                table = pd.DataFrame({"reached": [1682, 777, 375], "accepted": [793, 384, 227]},   # the chat nodes
                                     index=pd.Index([1, 2, 3], name="depth"))
                table["rate"] = table["accepted"] / table["reached"]
                return table
        ''',
        "delegating": '''
            from specdec_lite.study import level_outcomes


            def level_acceptance(nodes):
                levels = level_outcomes(nodes).groupby("depth")["accepted"]
                table = pd.DataFrame({"reached": levels.size(), "accepted": levels.sum().astype(int)})
                table["rate"] = table["accepted"] / table["reached"]
                return table
        ''',
    },
    "accepted_length_from_rate": {
        "alternative": '''
            def accepted_length_from_rate(alpha, depth):
                if depth == 0:
                    return 0.0
                if alpha == 1:
                    return float(depth)
                return alpha * (1 - alpha ** depth) / (1 - alpha)   # the geometric sum in closed form
        ''',
        "hardcoded": '''
            def accepted_length_from_rate(alpha, depth):
                return {(0.5, 3): 0.875, (0.3, 1): 0.3, (1.0, 3): 3.0, (0.0, 3): 0.0, (0.5, 2): 0.75}.get((alpha, depth), 1.0)
        ''',
        "delegating": '''
            from specdec_lite.study import predicted_accepted_length


            def accepted_length_from_rate(alpha, depth):
                return predicted_accepted_length(alpha, depth)
        ''',
    },
    "expected_accepted_length": {
        "alternative": '''
            def expected_accepted_length(steps):
                means = {}
                for domain in steps["domain"].unique()[::-1]:      # another order of the domains
                    values = steps.loc[steps["domain"] == domain, "accepted"].to_numpy(dtype=float)
                    means[domain] = values.sum() / len(values)
                return pd.Series(means)
        ''',
        "hardcoded": '''
            def expected_accepted_length(steps):
                return ours["expected_accepted_length"].copy()   # the committed study's figures, whatever the input
        ''',
        "delegating": '''
            from specdec_lite.study import StudyResult, acceptance_by_domain


            def expected_accepted_length(steps):
                result = StudyResult(study.config, study.nodes[study.nodes["prompt_id"].isin(steps["prompt_id"])], steps)
                return acceptance_by_domain(result).set_index("domain")["expected_accepted_length"]
        ''',
    },
    "entropy_acceptance_r": {
        "alternative": '''
            def entropy_acceptance_r(nodes, entropy="q_entropy"):
                out = {}
                for domain, group in nodes.groupby("domain"):
                    h = group[entropy].to_numpy(dtype=float)
                    a = group["accepted"].to_numpy(dtype=float)
                    share, spread = a.mean(), h.std()         # point-biserial form, population std
                    if spread == 0 or share in (0.0, 1.0):
                        out[domain] = float("nan")
                        continue
                    gap = h[a == 1].mean() - h[a == 0].mean()
                    out[domain] = gap / spread * np.sqrt(share * (1 - share))
                return pd.Series(out, dtype=float)
        ''',
        "hardcoded": '''
            def entropy_acceptance_r(nodes, entropy="q_entropy"):
                shift = 0.0 if entropy == "q_entropy" else 0.01
                return ours["entropy_r"] + shift    # the committed study's figures, whatever the input
        ''',
        "delegating": '''
            from specdec_lite import study as library


            def entropy_acceptance_r(nodes, entropy="q_entropy"):
                return pd.Series({d: library.pearson_r(g[entropy], g["accepted"], 0.95)[0]
                                  for d, g in nodes.groupby("domain")})
        ''',
    },
}
