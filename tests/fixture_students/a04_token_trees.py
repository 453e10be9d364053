"""Lesson 4."""

ANSWERS = {
    "ancestor_mask": {
        "alternative": '''
            def ancestor_mask(parents):
                parents = [int(p) for p in parents]
                n = len(parents)
                mask = np.zeros((n, n), dtype=bool)           # a NumPy array, walked upwards from each node
                for i in range(n):
                    node = i
                    while node >= 0:
                        mask[i, node] = True
                        node = parents[node]
                return mask
        ''',
        "hardcoded": '''
            def ancestor_mask(parents):
                rows = {0: [0], 1: [1], 2: [0, 2], 3: [0, 3], 4: [1, 4], 5: [0, 2, 5], 6: [1, 4, 6]}   # the demo tree
                mask = torch.zeros(7, 7, dtype=torch.bool)
                for i, row in rows.items():
                    mask[i, row] = True
                return mask
        ''',
        "delegating": '''
            def ancestor_mask(parents):
                return TokenTree(torch.as_tensor(parents, dtype=torch.long)).ancestors
        ''',
    },
    "position_ids": {
        "alternative": '''
            def position_ids(parents, prefix_length):
                parents = [int(p) for p in parents]

                def depth(node):
                    return 0 if node < 0 else 1 + depth(parents[node])

                return np.array([prefix_length - 1 + depth(i) for i in range(len(parents))], dtype=np.int64)
        ''',
        "hardcoded": '''
            def position_ids(parents, prefix_length):
                return torch.tensor([10, 10, 11, 11, 11, 12, 12])   # the demo tree after 10 tokens
        ''',
        "delegating": '''
            def position_ids(parents, prefix_length):
                return TokenTree(torch.as_tensor(parents, dtype=torch.long)).position_ids(prefix_length)
        ''',
    },
    "accepted_path_greedy": {
        "alternative": '''
            def accepted_path_greedy(parents, tokens, target_argmax):
                children = {}
                for i, parent in enumerate(parents):
                    children.setdefault(int(parent), {})[int(tokens[i])] = i
                path, node = (), -1
                while int(target_argmax[node + 1]) in children.get(node, {}):
                    node = children[node][int(target_argmax[node + 1])]
                    path += (node,)
                return path, int(target_argmax[node + 1])
        ''',
        "hardcoded": '''
            def accepted_path_greedy(parents, tokens, target_argmax):
                return [1, 4], 7   # "is very", then "tired"
        ''',
        "delegating": '''
            def accepted_path_greedy(parents, tokens, target_argmax):
                size = int(max(max([int(t) for t in tokens], default=0), max(int(t) for t in target_argmax))) + 1
                tree = TokenTree(torch.as_tensor(parents, dtype=torch.long))
                drafted = DraftedTree(tree, [int(t) for t in tokens], [0] * len(tokens), torch.zeros(len(tokens), size),
                                      [-1] * len(tokens), 0, "topk", 0.0)
                ps = torch.nn.functional.one_hot(torch.as_tensor(target_argmax, dtype=torch.long), size).float()
                return accept_tree(drafted, ps, make_generator(0))
        ''',
    },
}

ANSWERS["accept_children"] = {
    "alternative": '''
        def accept_children(p, qs, children, generator):
            current = p.detach().cpu().double().numpy().copy()          # NumPy, one child at a time
            for i, x in enumerate(children):
                x = int(x)
                q = qs[i].detach().cpu().double().numpy()
                u = float(torch.rand((), generator=generator))
                if q[x] > 0 and u * q[x] < current[x]:                  # u < p(x) / q(x), without dividing
                    return i, x
                left = np.maximum(current - q, 0.0)
                if left.sum() > 0:
                    current = left / left.sum()
            return None, int(torch.multinomial(torch.from_numpy(current), 1, generator=generator))
    ''',
    "hardcoded": '''
        def accept_children(p, qs, children, generator):
            toy_p = torch.tensor([0.30, 0.25, 0.20, 0.12, 0.08, 0.05])   # the self-check's node
            return None, int(torch.multinomial(toy_p, 1, generator=generator))
    ''',
    "slip": '''
        def accept_children(p, qs, children, generator):
            # the broken variant: every child is tried against the original p, never against the residual
            p = p.double()
            for i, x in enumerate(int(c) for c in children):
                q = qs[i].double()
                if torch.rand((), generator=generator, dtype=torch.float64) < torch.clamp(p[x] / q[x], max=1.0):
                    return i, x
            gap = torch.clamp(p - qs[-1].double(), min=0.0)
            return None, int(torch.multinomial(gap / gap.sum(), 1, generator=generator))
    ''',
    "delegating": '''
        from specdec_lite import sampling


        def accept_children(p, qs, children, generator):
            for i, x in enumerate(int(c) for c in children):
                if sampling.accept(p[x], qs[i][x], generator):
                    return i, x
                p = sampling.residual(p, qs[i])
            return None, sampling.sample(p, generator)
    ''',
}

ANSWERS["accepted_path_sampled"] = {
    "alternative": '''
        def accepted_path_sampled(parents, tokens, p_rows, q_rows, generator):
            kids = {}
            for i, parent in enumerate(parents):
                kids.setdefault(int(parent), []).append(i)

            def walk(node, path):                                   # recursive, the rule written out inline
                p = p_rows[node + 1].double().clone()
                for child in kids.get(node, []):
                    q, x = q_rows[child].double(), int(tokens[child])
                    if float(q[x]) > 0 and float(torch.rand((), generator=generator)) * float(q[x]) < float(p[x]):
                        return walk(child, path + (child,))
                    left = (p - q).clamp(min=0)
                    if float(left.sum()) > 0:
                        p = left / left.sum()
                return path, int(torch.multinomial(p, 1, generator=generator))

            return walk(-1, ())
    ''',
    "hardcoded": '''
        def accepted_path_sampled(parents, tokens, p_rows, q_rows, generator):
            kids = {-1: [0, 1], 0: [2, 3], 1: [4, 5]}               # the self-check's depth-2, two-child tree
            path, node = [], -1
            while node in kids:
                index, token = accept_children(p_rows[node + 1], q_rows[kids[node]], [tokens[k] for k in kids[node]],
                                               generator)
                if index is None:
                    return path, int(token)
                node = kids[node][index]
                path.append(node)
            return path, int(torch.multinomial(p_rows[node + 1].double(), 1, generator=generator))
    ''',
    "delegating": '''
        from specdec_lite.tree_draft import DraftedTree
        from specdec_lite.tree_speculative import accept_tree


        def accepted_path_sampled(parents, tokens, p_rows, q_rows, generator):
            tokens = [int(t) for t in tokens]
            point_masses = all(float(q_rows[i][t]) == 1.0 for i, t in enumerate(tokens))
            drafted = DraftedTree(TokenTree(torch.as_tensor(parents, dtype=torch.long).reshape(-1)), tokens,
                                  [0] * len(tokens), torch.log(q_rows.double()).reshape(len(tokens), p_rows.shape[-1]),
                                  [-1] * len(tokens), 0, "topk" if point_masses else "sample", 1.0)
            return accept_tree(drafted, p_rows, generator)
    ''',
    "slip": '''
        def accepted_path_sampled(parents, tokens, p_rows, q_rows, generator):
            parents, tokens = [int(p) for p in parents], [int(t) for t in tokens]
            path, node = [], -1
            while True:
                kids = [i for i, parent in enumerate(parents) if parent == node]
                p = p_rows[node]                                     # the slip: node instead of node + 1
                if not kids:
                    return path, int(torch.multinomial(p.double(), 1, generator=generator))
                index, token = accept_children(p, q_rows[kids], [tokens[i] for i in kids], generator)
                if index is None:
                    return path, int(token)
                node = kids[index]
                path.append(node)
    ''',
}

# Broken walks that the hidden test must fail; tests/test_fixture_students.py runs that test cell on each of them
# directly (without nbgrader, so they cost seconds, not an autograde each).
BROKEN = {"accepted_path_sampled": {
    "stops_after_the_first_level": '''
        def accepted_path_sampled(parents, tokens, p_rows, q_rows, generator):
            kids = [i for i, parent in enumerate(parents) if int(parent) == -1]
            if not kids:
                return [], int(torch.multinomial(p_rows[0].double(), 1, generator=generator))
            index, token = accept_children(p_rows[0], q_rows[kids], [int(tokens[i]) for i in kids], generator)
            if index is None:
                return [], int(token)
            node = kids[index]                                       # lossless, but never looks deeper
            return [node], int(torch.multinomial(p_rows[node + 1].double(), 1, generator=generator))
    ''',
    "leaf_token_from_the_parent": '''
        def accepted_path_sampled(parents, tokens, p_rows, q_rows, generator):
            parents, tokens = [int(p) for p in parents], [int(t) for t in tokens]
            path, node = [], -1
            while True:
                kids = [i for i, parent in enumerate(parents) if parent == node]
                if not kids:                                         # the bug: p at the leaf's parent
                    above = parents[node] if node >= 0 else -1
                    return path, int(torch.multinomial(p_rows[above + 1].double(), 1, generator=generator))
                index, token = accept_children(p_rows[node + 1], q_rows[kids], [tokens[i] for i in kids], generator)
                if index is None:
                    return path, int(token)
                node = kids[index]
                path.append(node)
    ''',
    "rejected_children_against_the_original_p": '''
        def accepted_path_sampled(parents, tokens, p_rows, q_rows, generator):
            parents, tokens = [int(p) for p in parents], [int(t) for t in tokens]
            path, node = [], -1
            while True:
                kids = [i for i, parent in enumerate(parents) if parent == node]
                p = p_rows[node + 1].double()
                for i in kids:                                       # the bug: no residual between siblings
                    q, x = q_rows[i].double(), tokens[i]
                    if float(torch.rand((), generator=generator)) * float(q[x]) < float(p[x]):
                        break
                else:
                    return path, int(torch.multinomial(p, 1, generator=generator))
                node = i
                path.append(node)
    ''',
}}

# The slips (plausible mistakes) are graded with them, directly on their test cells: an autograde of their own would
# cost minutes of CI.
BROKEN["accepted_path_sampled"]["slip"] = ANSWERS["accepted_path_sampled"].pop("slip")
BROKEN["accept_children"] = {"slip": ANSWERS["accept_children"].pop("slip")}
