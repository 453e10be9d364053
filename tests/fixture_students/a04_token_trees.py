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
