"""Lesson 9."""

ANSWERS = {
    "propose_lookup": {
        "alternative": '''
            def propose_lookup(sequence, k, max_ngram=3, min_ngram=1):
                tokens = tuple(sequence)
                for n in reversed(range(min_ngram, max_ngram + 1)):
                    if len(tokens) <= n:
                        continue
                    suffix = tokens[len(tokens) - n:]
                    starts = [s for s in range(len(tokens) - n) if tokens[s:s + n] == suffix]
                    if starts:
                        return list(tokens[starts[-1] + n:starts[-1] + n + k])
                return []
        ''',
        "hardcoded": '''
            def propose_lookup(sequence, k, max_ngram=3, min_ngram=1):
                known = {(7, 1, 2, 3, 9, 4, 1, 2, 3): [9, 4], (1, 2, 5, 1, 2, 6, 1, 2): [6],
                         (4, 1, 2, 7, 3, 1, 2, 8, 4, 1, 2): [7], (1, 2, 1): [2, 1]}   # the self-check's cases
                return known.get(tuple(sequence), [])[:k]
        ''',
        "delegating": '''
            from specdec_lite.lookup import PromptLookup


            def propose_lookup(sequence, k, max_ngram=3, min_ngram=1):
                return PromptLookup(1 << 20, max_ngram, min_ngram).propose(list(sequence), k)
        ''',
    },
    "medusa_draft": {
        "alternative": '''
            def medusa_draft(feature, A, b, W_S, S, k):
                tokens = []
                for i in range(k):
                    z = torch.nn.functional.linear(feature, A[i], b[i])
                    scores = W_S @ (feature + z * torch.sigmoid(z))
                    tokens.append(S[torch.argmax(scores)].item())
                return tuple(tokens)
        ''',
        "hardcoded": '''
            def medusa_draft(feature, A, b, W_S, S, k):
                if len(S) == 4:                                   # the self-check's hand-made heads
                    return [10, 30][:k] if float(b.abs().sum()) else [10, 10][:k]
                return [int(S[0])] * k
        ''',
        "delegating": '''
            from specdec_lite.medusa import MedusaConfig, MedusaDrafter, MedusaHeads
            from specdec_lite.shortlist import TargetHead


            def medusa_draft(feature, A, b, W_S, S, k):
                vocab = int(S.max()) + 1
                heads = MedusaHeads(MedusaConfig(hidden_size=A.shape[1], heads=A.shape[0], vocab_size=vocab,
                                                 shortlist=S.tolist())).to(A.dtype)
                with torch.no_grad():
                    for block, weight, bias in zip(heads.blocks, A, b):
                        block.weight.copy_(weight)
                        block.bias.copy_(bias)
                drafter = MedusaDrafter(heads, TargetHead(S, W_S, vocab), feature=feature)
                return drafter.draft([0], k, 0.0, torch.Generator())[0]
        ''',
    },
}
